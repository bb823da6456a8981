"""`r2e seart`: curate repositories from SEART GitHub Search into a URL list for `r2e setup`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from r2e.cli_types import FiniteFloat
from r2e.errors import R2EError, R2EUsageError
from r2e.workspace import Workspace


def _date_option(ctx, param, value):
    if value is None:
        return None
    from seart.query import QueryError, parse_date

    try:
        parse_date(value, "--" + param.name.replace("_", "-"))
    except QueryError as exc:
        raise R2EUsageError(str(exc)) from None
    return value


def _drops(dropped: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))


@click.command()
@click.option("--language", default="Python", show_default=True, help="Main language.")
@click.option("--stars-min", type=click.IntRange(min=0))
@click.option("--stars-max", type=click.IntRange(min=0))
@click.option("--created-min", callback=_date_option, metavar="YYYY-MM-DD")
@click.option("--created-max", callback=_date_option, metavar="YYYY-MM-DD")
@click.option("--committed-min", callback=_date_option, metavar="YYYY-MM-DD")
@click.option("--committed-max", callback=_date_option, metavar="YYYY-MM-DD")
@click.option("--exclude-forks/--include-forks", default=True, show_default=True)
@click.option("--has-license", is_flag=True, help="Only repositories with a license.")
@click.option("--code-lines-min", type=click.IntRange(min=0))
@click.option("--code-lines-max", type=click.IntRange(min=0))
@click.option("--commits-min", type=click.IntRange(min=0), help="Server-side minimum number of commits.")
@click.option("--contributors-min", type=click.IntRange(min=0))
@click.option("--max-urls", type=click.IntRange(min=1), help="Keep at most this many (most starred first).")
@click.option("--keep-archived", is_flag=True, help="Keep archived repositories (dropped by default).")
@click.option("--pushed-since", callback=_date_option, metavar="YYYY-MM-DD", help="Client-side: pushed on or after.")
@click.option("--min-commits", type=click.IntRange(min=0), help="Client-side minimum number of commits.")
@click.option("--from-csv", "from_csv", type=click.Path(), help="Curate an export saved earlier instead of downloading.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Curated CSV path [default: $R2E_HOME/seart/<stamp>.csv].")
@click.option("--url", "endpoint_url", metavar="URL", help="SEART download endpoint (default: $R2E_SEART_URL or the public one).")
@click.option("--timeout", type=FiniteFloat(min=1), default=120, show_default=True, help="Seconds to wait for SEART.")
@click.pass_obj
def seart(ws: Workspace, language, stars_min, stars_max, created_min, created_max, committed_min, committed_max,
          exclude_forks, has_license, code_lines_min, code_lines_max, commits_min, contributors_min, max_urls,
          keep_archived, pushed_since, min_commits, from_csv, output, endpoint_url, timeout):
    """Curate repositories from SEART GitHub Search (or a saved export) into a CSV and a URL list."""
    from seart.client import FetchError, download, endpoint
    from seart.csvdata import CSVError, decode_export
    from seart.curate import ClientFilters, curate, write_outputs
    from seart.query import QueryError, SeartQuery

    query = SeartQuery(language=language, starsMin=stars_min, starsMax=stars_max, createdMin=created_min,
                       createdMax=created_max, committedMin=committed_min, committedMax=committed_max,
                       excludeForks=exclude_forks, hasLicense=has_license, codeLinesMin=code_lines_min,
                       codeLinesMax=code_lines_max, commitsMin=commits_min, contributorsMin=contributors_min)
    try:
        query.validate()
    except QueryError as exc:
        raise R2EUsageError(str(exc)) from None
    try:
        if from_csv:
            path = Path(from_csv)
            if not path.is_file():
                raise R2EUsageError(f"--from-csv '{from_csv}' is not a readable file")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise R2EUsageError(f"--from-csv '{from_csv}' is not readable ({exc.strerror})") from None
            rows = decode_export(data, f"'{from_csv}'")
        else:
            click.echo(f"seart: downloading from {endpoint(endpoint_url)} with {query.params()}")
            rows = decode_export(download(query, endpoint_url, timeout), f"SEART export from {endpoint(endpoint_url)}")
    except (FetchError, CSVError) as exc:
        raise R2EError(str(exc)) from None
    filters = ClientFilters(not_archived=not keep_archived, no_forks=exclude_forks,
                            pushed_since=dt.date.fromisoformat(pushed_since) if pushed_since else None,
                            min_commits=min_commits, min_stars=stars_min)
    kept, dropped = curate(rows, filters, max_urls)
    if not kept:
        raise R2EError(f"no repositories left after curation ({_drops(dropped) or 'the export has no rows'})")
    csv_path = Path(output) if output else ws.home / "seart" / f"seart-{dt.datetime.now():%Y%m%d-%H%M%S}.csv"
    urls_path = write_outputs(kept, csv_path)
    click.echo(f"seart: {len(rows)} rows, {len(kept)} kept (dropped: {_drops(dropped) or 'none'})")
    click.echo(f"wrote {csv_path}\nwrote {urls_path}  (r2e setup -e EXP --repo-urls-file {urls_path})")
