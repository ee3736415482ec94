"""`zones export` streams: the same text as the former export (one json.dumps of the whole),
progress on stderr and never in the file, the command's own read-only snapshot."""
import json

import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient
from sqlalchemy import text

from bench.export import export_before_streaming
from gridsys import create_app, geo
from gridsys.zones import services
from gridsys.zones.transfer import export_zones, import_zones, iter_features
from tests.factories import cell, make_area, make_grid, make_town
from tests.zones.test_transfer import demo


def former_text(session, **kwargs) -> str:
    return json.dumps(export_before_streaming(session, **kwargs), ensure_ascii=False)


def varied_zones(session):
    """The demo town, a clockwise grid, a town with a clockwise hole, and one near 0°E 0°N with
    coordinates whose 17-decimal text would lose digits."""
    import_zones(session, demo(), actor="t")
    area = make_area(session, make_town(session), 1)
    make_grid(session, area, 1, orient(cell(0, 0, 2, 2), -1.0))
    outer = orient(box(106.3, 29.3, 106.4, 29.4), -1.0)
    hole = orient(box(106.33, 29.33, 106.34, 29.34), 1.0)
    services.save_zone(session, "town", "500106903", "湖镇", MultiPolygon([Polygon(outer.exterior.coords,
                                                                                 [hole.exterior.coords])]),
                       actor="t")
    near_zero = Polygon([(0.0123456789012345678, 0.0003141592653589793), (0.05, 0.000271828182845904),
                         (0.04, 0.03), (0.0123456789012345678, 0.0003141592653589793)])
    services.save_zone(session, "town", "500106904", "零点镇", MultiPolygon([near_zero]), actor="t")
    # written as WKB, so the stored doubles keep every digit
    session.execute(text("UPDATE towns SET geom = ST_GeomFromWKB(:wkb, :srid) WHERE code = '500106904'"),
                    {"wkb": shapely.to_wkb(MultiPolygon([near_zero])), "srid": geo.STORAGE_SRID})


def test_streamed_file_is_the_former_text_byte_for_byte(session, cli, tmp_path):
    varied_zones(session)
    path = tmp_path / "out.geojson"
    result = cli.invoke(args=["zones", "export", "--out", str(path)])
    assert result.exit_code == 0, result.output
    expected = former_text(session)
    assert len(json.loads(expected)["features"]) == 38 + 5
    assert "[0.012345678901234568, 0.0003141592653589793]" in expected
    assert path.read_text(encoding="utf-8") == expected
    assert not (tmp_path / "out.geojson.part").exists()


def test_streamed_stdout_and_filters_are_the_former_text(session, cli):
    varied_zones(session)
    for args, kwargs in (([], {}), (["--level", "grid"], {"level": "grid"}),
                         (["--town", "500106901"], {"town_code": "500106901"}),
                         (["--level", "town", "--town", "999999999"], {"level": "town", "town_code": "999999999"})):
        result = cli.invoke(args=["zones", "export", *args])
        assert result.exit_code == 0, result.output
        assert result.stdout == former_text(session, **kwargs) + "\n", args
        assert result.stderr == ""


def test_export_zones_dict_is_the_former_dict(session):
    varied_zones(session)
    as_sent = lambda data: json.loads(json.dumps(data))  # noqa: E731 (tuples and lists alike)
    assert as_sent(export_zones(session)) == as_sent(export_before_streaming(session))


def test_progress_goes_to_stderr_not_into_the_file(session, cli, tmp_path):
    import_zones(session, demo(), actor="t")
    path = tmp_path / "out.geojson"
    result = cli.invoke(args=["zones", "export", "--out", str(path), "--every", "10"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["10/38 features (26 %)", "20/38 features (52 %)",
                                          "30/38 features (78 %)", f"38 features written to {path}"]
    assert result.stdout == ""
    assert path.read_text(encoding="utf-8") == former_text(session)


def test_quiet_writes_nothing_on_stderr(session, cli, tmp_path):
    import_zones(session, demo(), actor="t")
    path = tmp_path / "out.geojson"
    result = cli.invoke(args=["zones", "export", "--out", str(path), "--every", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and result.stdout == ""
    assert path.read_text(encoding="utf-8") == former_text(session)


def test_a_failed_export_leaves_the_existing_file_as_it_was(session, cli, tmp_path, monkeypatch):
    import_zones(session, demo(), actor="t")
    path = tmp_path / "out.geojson"
    path.write_text("before", encoding="utf-8")

    def broken(*args, **kwargs):
        yield {"type": "Feature"}
        raise RuntimeError("connection lost")

    monkeypatch.setattr("gridsys.zones.transfer.iter_features", broken)
    result = cli.invoke(args=["zones", "export", "--out", str(path), "--quiet"])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    assert path.read_text(encoding="utf-8") == "before"
    assert not (tmp_path / "out.geojson.part").exists()


def test_the_command_runs_in_its_own_read_only_snapshot(database_url, tmp_path, monkeypatch):
    """Without the tests' shared session: the command's own transaction (REPEATABLE READ, READ
    ONLY) streams through a server-side cursor and commits."""
    seen = {}

    def spying(session, *args, **kwargs):
        seen["mode"] = [session.execute(text(f"SHOW {name}")).scalar()
                        for name in ("transaction_isolation", "transaction_read_only")]
        yield from iter_features(session, *args, **kwargs)

    monkeypatch.setattr("gridsys.zones.transfer.iter_features", spying)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                      "TILES_URL": ""})
    path = tmp_path / "none.geojson"
    result = app.test_cli_runner().invoke(args=["zones", "export", "--town", "999999999", "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text(encoding="utf-8")) == {"type": "FeatureCollection", "features": []}
    assert result.stderr == f"0 features written to {path}\n"
    assert seen["mode"] == ["repeatable read", "on"]
