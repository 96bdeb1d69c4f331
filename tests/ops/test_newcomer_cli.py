"""What a newcomer meets on the command line (issue 20, item 7), each as it was tried: every key
printed whole in a narrow terminal, `etl daily` on day one saying what to do, `audiences sizes`
with nothing recorded, a file of several experiments given to `experiments create`, a mistyped
--data-dir refused (and not created), `config` showing the admin token the server made."""

from __future__ import annotations

from pathlib import Path

from headwater.admin_token import ensure_admin_token
from headwater.settings_loader import load_settings
from tests.helpers import cli, create_key

NARROW = {"COLUMNS": "80"}


def test_keys_are_printed_whole_in_a_narrow_terminal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keys = [create_key(data, "web"), create_key(data, "a-mobile-app-with-a-rather-long-name")]
    shown = cli(data, "keys", "list", env=NARROW).stdout
    for key in keys:
        assert key in shown, shown


def test_etl_daily_on_day_one_says_what_to_do(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_key(data)
    done = cli(data, "etl", "daily", check=False)
    assert done.returncode == 1
    assert "no event log files were received" in done.stderr
    assert "--date YYYY-MM-DD" in done.stderr and "--pending" in done.stderr
    assert "Traceback" not in done.stderr


def test_audience_sizes_with_nothing_recorded(tmp_path: Path) -> None:
    done = cli(tmp_path / "data", "audiences", "sizes")
    assert done.returncode == 0 and "No size recorded for any audience yet" in done.stderr
    assert "headwater audiences recompute" in done.stderr


def test_create_refuses_a_file_of_several_experiments_and_names_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    file = tmp_path / "experiments.toml"
    file.write_text('[[experiments]]\nkey = "checkout"\nvariations = ["control", "one-page"]\n')
    done = cli(data, "experiments", "create", str(file), check=False)
    assert done.returncode == 2 and f"headwater experiments load {file}" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli(data, "experiments", "load", str(file)).returncode == 0


def test_a_mistyped_data_dir_is_refused_not_created(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_key(data)
    typo = tmp_path / "dta"
    for args in (
        ["metrics", "dau", "--start", "2026-12-01", "--end", "2026-12-05"],
        ["insights", "trend", "--start", "2026-12-01", "--end", "2026-12-05"],
        ["people", "show", "user-1"],
    ):
        done = cli(data, *args, "--data-dir", str(typo), check=False)
        assert done.returncode == 2 and f"no data directory at {typo}" in done.stderr, (args, done.stderr)
        assert not typo.exists()
    assert cli(data, "metrics", "dau", "--start", "2026-12-01", "--end", "2026-12-05").returncode == 0


def test_config_shows_the_admin_token_the_server_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_key(data)
    before = cli(data, "config", "--json").stdout
    assert '"admin_token": null' in before
    token, _ = ensure_admin_token(load_settings(data_dir=data))
    shown = cli(data, "config", "--json").stdout
    assert f"in {data / 'admin_token'}" in shown and token not in shown


def test_a_busy_port_is_one_line_with_a_hint_before_anything_is_made(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        done = cli(data, "serve", "--port", str(port), check=False)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert f"--port {port + 1}" in done.stderr and "HEADWATER_PORT" in done.stderr
    assert "Headwater " not in done.stderr and "Traceback" not in done.stderr  # no banner before it
    assert not data.exists()  # nothing made: no key, no token, no directory
