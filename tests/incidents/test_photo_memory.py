"""Images are bounded before decoding (issue 13 item 4): a 155 KB PNG of 6320x6320 cost 510 MB
and a second of CPU; it is now refused from its header. A 50 MP phone JPEG passes, decoded at a
reduced scale, under 200 MB: measured in a fresh process (its peak resident memory)."""
from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest
from PIL import Image

from gridsys.errors import GridsysError
from gridsys.incidents import photos

PEAK = """
import resource, sys
from gridsys.incidents import photos
raw = open(sys.argv[1], 'rb').read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
jpeg, thumb, w, h = photos.process(raw)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(w, h, (after - before) // 1024)
"""


def test_a_huge_png_is_refused_from_its_header(monkeypatch):
    out = io.BytesIO()
    Image.new("1", (6320, 6320)).save(out, "PNG")   # tiny on disk, 40 MP decoded
    raw = out.getvalue()
    assert len(raw) < 200_000
    started = time.perf_counter()
    with pytest.raises(GridsysError) as refused:
        photos.process(raw)
    assert refused.value.code == "photo_too_large" and time.perf_counter() - started < 0.2


def test_a_50_megapixel_phone_photo_passes_in_little_memory(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.merge("RGB", [Image.linear_gradient("L").resize((8660, 5773))] * 3).save(path, "JPEG", quality=80)  # 50 MP
    assert path.stat().st_size <= photos.MAX_PHOTO_BYTES
    result = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    width, height, grown_mb = map(int, result.stdout.split())
    assert max(width, height) == photos.MAX_SIDE
    assert grown_mb < 200, f"decoding a 50 MP JPEG grew the process by {grown_mb} MB"
