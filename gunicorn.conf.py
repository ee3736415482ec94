"""gunicorn's settings, read from the directory it is started in (the README's deployment command,
the benchmarks and the load test start it in the repository). Options on the command line still
apply; this file only adds what a flag cannot say."""


def post_worker_init(worker):
    """Each worker, once it has built the app: gridsys.serve.settle (the garbage collector leaves
    the startup objects alone, so a full collection no longer stalls a request)."""
    from gridsys.serve import settle
    settle()
