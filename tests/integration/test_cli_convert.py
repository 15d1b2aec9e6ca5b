"""``accord convert`` as a user runs it: a subprocess, with GeoConvert (GeographicLib) as oracle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accord.cli import main

SRC = Path(__file__).resolve().parents[2] / "src"


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), e.get("PYTHONPATH")) if p)
    return e


def accord(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "accord.cli", *args],
        input=stdin,
        capture_output=True,
        env=env(),
        timeout=120,
        check=False,
    )


def geoconvert(*args: str, text: str) -> str:
    out = subprocess.run(
        ["GeoConvert", *args], input=text, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.mark.parametrize(
    ("to", "geoconvert_args"),
    [
        ("wgs84", ["-p", "1"]),
        ("mgrs", ["-m", "-p", "0"]),
        ("utm", ["-u", "-l", "-p", "0"]),
        ("dms", ["-d", "-p", "1"]),
    ],
)
def test_single_position_in_each_output_form(to: str, geoconvert_args: list[str]) -> None:
    r = accord("convert", "34.9183", "71.0917", "--to", to)
    assert r.returncode == 0, r.stderr
    expected = geoconvert(*geoconvert_args, text="34.9183 71.0917")
    assert r.stdout.decode().strip().replace("°", "d") == expected
    assert r.stderr == b""


def test_mgrs_and_utm_text_are_read() -> None:
    r = accord("convert", "42SXD9107565979", "--to", "utm")
    assert r.stdout.decode().strip() == geoconvert("-u", "-l", "-p", "0", text="42SXD9107565979")
    r = accord("convert", "42S", "691075", "3865980", "--to", "mgrs")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == geoconvert("-m", "-p", "0", text="42n 691075 3865980")


def test_json_for_one_position() -> None:
    r = accord("convert", "--json", "34°55'06\"N 71°05'30\"E")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["input"] == "34°55'06\"N 71°05'30\"E"
    assert obj["wgs84"] == pytest.approx([71 + 5.5 / 60, 34 + 55 / 60 + 6 / 3600], abs=1e-12)
    point = "34:55:06N 71:05:30E"
    assert obj["mgrs"] == geoconvert("-m", "-p", "0", text=point)
    assert obj["utm"] == geoconvert("-u", "-l", "-p", "0", text=point)
    assert obj["dms"].replace("°", "d") == geoconvert("-d", "-p", "1", text=point)
    assert obj["transformation"]["description"] == "none"
    assert obj["added_uncertainty_m"] > 0  # the seconds were typed to 1"


def test_batch_json_streams_one_object_per_line_and_goes_on_after_errors() -> None:
    lines = [
        "34.9183 71.0917",
        "42SXD1234 567",
        "no such place",
        "",
        "42s 1 2",
        "north 2019280 1890660",
    ]
    r = accord("convert", "--json", stdin=("\n".join(lines) + "\n").encode())
    assert r.returncode == 2
    objs = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [o["input"] for o in objs] == lines
    assert ["error" in o for o in objs] == [False, True, True, True, True, False]
    assert "different numbers of digits" in objs[1]["error"]
    assert "ambiguous" in objs[4]["error"]
    assert objs[5]["mgrs"] == geoconvert("-m", "-p", "0", text="n 2019280 1890660")
    assert r.stderr.decode().splitlines() == ["accord: 4 of 6 lines could not be read"]


def test_batch_exit_0_when_every_line_reads() -> None:
    r = accord("convert", "--to", "mgrs", stdin=b"34.9183 71.0917\n-34.5, -58.25\n")
    assert r.returncode == 0, r.stderr
    expected = geoconvert("-m", "-p", "0", text="34.9183 71.0917\n-34.5 -58.25")
    assert r.stdout.decode().strip() == expected


def test_plain_batch_keeps_lines_aligned_and_reports_on_stderr() -> None:
    r = accord("convert", stdin=b"34.9183 71.0917\nbad line\n\n1 2\n")
    assert r.returncode == 2
    assert r.stdout.decode().split("\n") == ["34.918300 71.091700", "", "", "1.000000 2.000000", ""]
    err = r.stderr.decode().splitlines()
    assert err[0].startswith("accord: line 2: text: ")
    assert err[-1] == "accord: 1 of 3 lines could not be read"


def test_batch_survives_bytes_that_are_not_utf8() -> None:
    r = accord("convert", "--json", stdin=b"\xff\xfe 34 71\n34.9 71.1\n")
    assert r.returncode == 2
    first, second = (json.loads(line) for line in r.stdout.decode().splitlines())
    assert "error" in first and "wgs84" in second


def test_batch_streams_each_answer_before_the_next_line_arrives() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "convert", "--to", "mgrs"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for text in ("34.9183 71.0917", "-34.5 -58.25"):
            proc.stdin.write(f"{text}\n".encode())
            proc.stdin.flush()
            start = time.monotonic()
            answer = proc.stdout.readline().decode().strip()  # blocks if the CLI buffers
            assert answer == geoconvert("-m", "-p", "0", text=text)
            assert time.monotonic() - start < 30
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == 0


def test_legacy_datum_and_ballpark() -> None:
    r = accord("convert", "34.9", "71.0", "--crs", "EPSG:4144")
    assert r.returncode == 2
    assert r.stdout == b""
    (line,) = r.stderr.decode().splitlines()
    assert line.startswith("accord: text.crs: ") and "Kalianpur 1937" in line
    r = accord("convert", "34.9", "71.0", "--crs", "EPSG:4144", "--allow-ballpark", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["transformation"]["ballpark"] is True
    assert obj["added_uncertainty_m"] >= 1000
    assert "Kalianpur 1937" in obj["datum_warning"]
    r = accord("convert", "34.9", "71.0", "--crs", "EPSG:4145", "--json")
    obj = json.loads(r.stdout)
    assert "Kalianpur 1962 to WGS 84" in obj["transformation"]["description"]


def test_bad_input_exits_2_with_one_line_on_stderr() -> None:
    r = accord("convert", "34.9N")
    assert r.returncode == 2
    assert r.stdout == b""
    assert r.stderr.decode().splitlines() == [
        "accord: text: only one hemisphere letter (N): give N/S on the latitude and E/W on "
        "the longitude, or neither"
    ]
    r = accord("convert", "--json", "34.9N")
    assert r.returncode == 2
    assert "error" in json.loads(r.stdout)


def test_usage_and_help() -> None:
    r = accord("convert", "--help")
    assert r.returncode == 0
    text = r.stdout.decode()
    assert "examples:" in text and "--json" in text and "Exit status" in text
    assert accord("convert", "--to", "kml", "1 2").returncode == 2
    assert accord().returncode == 2
    assert accord("convert", "1 2", "--crs", "EPSG:32642").returncode == 2


def test_main_returns_instead_of_exiting() -> None:
    assert main(["convert", "--help"]) == 0
    assert main(["no-such-command"]) == 2
