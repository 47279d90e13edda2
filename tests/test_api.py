"""The read API under /api/v1, checked against its own OpenAPI document."""

from __future__ import annotations

import io
import json
import string
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy import select

from monitor.api import create_app
from monitor.api.openapi import openapi_document
from monitor.api.series import wilson_interval
from monitor.export.dataset import export_dataset
from monitor.export.query import make_filter
from monitor.store.models import Feed
from monitor.store.session import make_engine, transaction, upgrade
from tests.conftest import make_settings
from tests.test_export import ITEMS, populate


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """One populated database for the read-only tests of this module."""
    path = tmp_path_factory.mktemp("api") / "monitor.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    populate(engine)
    with transaction(engine) as session:
        feed = session.scalars(select(Feed).order_by(Feed.id)).first()
        feed.status, feed.status_line = "error", "HTTP 503 twice; next try in 1 h"
        feed.failure_score, feed.consecutive_failures = 2.0, 2
        feed.last_success_at = datetime(2024, 3, 19, 8, 0, tzinfo=UTC)
    app = create_app(make_settings(f"sqlite:///{path}"), engine)
    yield app, engine
    engine.dispose()


@pytest.fixture
def client(shared_app):
    return shared_app[0].test_client()


@pytest.fixture(scope="module")
def document():
    return openapi_document(make_settings())


def validator(document, schema_name):
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def response_schema(document, path):
    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


# ---- items -------------------------------------------------------------------


def test_item_pages_follow_cursors_through_every_item_in_id_order(client, document):
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/items", query_string=query)
        assert response.status_code == 200
        validator(document, "ItemPage").validate(response.json)
        seen += [item["id"] for item in response.json["items"]]
        pages += 1
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen) and len(seen) == len(ITEMS) == len(set(seen))


def test_items_take_the_same_filters_as_the_export(client):
    response = client.get(
        "/api/v1/items",
        query_string=[("topic", "neutrality"), ("topic", "security_guarantees"),
                      ("since", "2024-01-01"), ("with_content", "true")],
    )  # fmt: skip
    assert response.status_code == 200
    items = response.json["items"]
    assert [item["title"] for item in items] == [ITEMS[1][0], ITEMS[2][0]]
    assert items[0]["content"] == f"Full text of {ITEMS[1][0]}."
    assert items[0]["published"] == "2024-01-10T10:30:00Z"
    assert isinstance(items[0]["evidence"], list) and items[0]["neutrality"] is True


def test_a_cursor_is_refused_with_other_filters(client):
    first = client.get("/api/v1/items", query_string={"limit": 1}).json
    response = client.get(
        "/api/v1/items", query_string={"limit": 1, "cursor": first["next_cursor"], "language": "de"}
    )
    assert response.status_code == 400
    assert response.json["error"].startswith("cursor: issued for other filters")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "501"}, "limit: must be between 1 and 500"),
        ({"limit": "ten"}, "limit: not an integer: 'ten'"),
        ({"cursor": "%%%"}, "cursor: not a cursor issued by this API"),
        ({"cursor": "eyJhZnRlciI6IC0xLCAiZmlsdGVyIjogIngifQ"}, "cursor: not a cursor"),
        ({"since": "2024-02-30"}, "since: not a date YYYY-MM-DD: '2024-02-30'"),
        ({"topic": "nato"}, "topic: unknown value 'nato'"),
        ({"min_score": "high"}, "min_score: not a number: 'high'"),
        ({"with_content": "maybe"}, "with_content: not true or false: 'maybe'"),
        ({"sort": "title"}, "sort: unknown parameter"),
    ],
)
def test_bad_item_parameters_answer_400_naming_the_parameter(client, document, query, message):
    response = client.get("/api/v1/items", query_string=query)
    assert response.status_code == 400
    validator(document, "Error").validate(response.json)
    assert response.json["error"].startswith(message)


# ---- series ------------------------------------------------------------------


def test_wilson_intervals_match_known_values():
    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 4)
    assert low == 0.0 and round(high, 4) == 0.4899
    low, high = wilson_interval(7, 7)
    assert high == 1.0 and round(low, 4) == 0.6457


def test_series_counts_a_topics_items_per_week_with_frame_shares(client, document):
    response = client.get("/api/v1/series", query_string={"topic": "nato_membership"})
    assert response.status_code == 200
    validator(document, "Series").validate(response.json)
    series = response.json["series"]
    # items 0 (Tue 2 Jan 2024) and 3 (Mon 5 Feb 2024) are about NATO membership
    assert [(p["period_start"], p["items"]) for p in series] == [
        ("2024-01-01", 1),
        ("2024-02-05", 1),
    ]
    shares = {f["frame"]: f for f in series[0]["frames"]}
    assert shares["sovereign_choice"]["count"] == 1 and shares["sovereign_choice"]["share"] == 1.0
    assert shares["sovereign_choice"]["low"] == pytest.approx(wilson_interval(1, 1)[0])
    assert shares["neutrality_as_settlement"]["count"] == 0


def test_series_by_month_and_filtered(client):
    response = client.get(
        "/api/v1/series",
        query_string={"topic": "nato_membership", "period": "month", "language": "de"},
    )
    assert [(p["period_start"], p["items"]) for p in response.json["series"]] == [("2024-02-01", 1)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "topic: required"),
        ({"topic": "nato_membership", "period": "day"}, "period: one of week, month"),
        ({"topic": ["neutrality", "nato_membership"]}, "topic: given 2 times"),
        ({"topic": "neutrality", "cursor": "x"}, "cursor: unknown parameter"),
    ],
)
def test_bad_series_parameters_answer_400_naming_the_parameter(client, query, message):
    response = client.get("/api/v1/series", query_string=query)
    assert response.status_code == 400
    assert response.json["error"].startswith(message)


# ---- sources and downloads ---------------------------------------------------------


def test_sources_list_feeds_with_their_health(client, document):
    response = client.get("/api/v1/sources")
    assert response.status_code == 200
    validator(document, "SourceList").validate(response.json)
    first = response.json["sources"][0]
    assert first["status_line"] == "HTTP 503 twice; next try in 1 h"
    assert first["last_success_at"] == "2024-03-19T08:00:00Z"
    assert first["failure_score"] == 2.0
    assert first["items"] == 2 and first["publisher"] == "Atlantic Desk"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_download_is_the_file_the_cli_export_writes(shared_app, client, tmp_path, fmt):
    _, engine = shared_app
    query = [("format", fmt), ("topic", "nato_membership"), ("country", "de")]
    response = client.get("/api/v1/export", query_string=query)
    assert response.status_code == 200
    settings = make_settings()
    selection = make_filter(settings, topics=["nato_membership"], countries=["de"])
    local = export_dataset(settings, engine, selection, tmp_path / f"x.{fmt}", file_format=fmt)
    assert response.data == local.path.read_bytes()
    assert response.headers["X-Export-SHA256"] == local.sha256
    assert response.headers["X-Export-Rows"] == "1"
    if fmt == "parquet":
        assert pq.read_table(io.BytesIO(response.data)).num_rows == 1


def test_a_download_offers_its_datasheet(client):
    response = client.get(
        "/api/v1/export", query_string={"format": "csv", "part": "datasheet.json"}
    )
    assert response.status_code == 200
    sheet = json.loads(response.data)
    assert sheet["rows"] == len(ITEMS) and sheet["format"] == "csv"
    assert sheet["sha256"] == response.headers["X-Export-SHA256"]


def test_a_download_without_a_format_is_refused(client):
    response = client.get("/api/v1/export")
    assert response.status_code == 400
    assert response.json == {"error": "format: required"}


def test_unknown_api_paths_answer_in_json(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert "error" in response.json


# ---- the OpenAPI document -----------------------------------------------------


def test_the_openapi_document_describes_every_endpoint_and_only_those(shared_app, client):
    app, _ = shared_app
    served = client.get("/api/v1/openapi.json").json
    assert served["openapi"].startswith("3.1")
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")}
    assert set(served["paths"]) == routes
    for schema in served["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for path in served["paths"].values():
        for parameter in path["get"].get("parameters", []):
            Draft202012Validator.check_schema(parameter["schema"])
            assert parameter["description"]


# ---- property tests: any parameters give 200 or 400, and bodies match the document --


def _value_for(schema):
    if schema.get("type") == "array":
        return _value_for(schema["items"])
    good = {
        "date": st.dates().map(lambda d: d.isoformat()),
        "integer": st.integers(-5, 1000).map(str),
        "number": st.floats(allow_nan=True, allow_infinity=True).map(str),
        "boolean": st.sampled_from(["true", "false", "1", "0", "yes", "no"]),
    }
    if "enum" in schema:
        strategy = st.sampled_from([str(v) for v in schema["enum"]])
    elif schema.get("format") == "date":
        strategy = good["date"]
    else:
        strategy = good.get(schema.get("type", ""), st.text(string.printable, max_size=12))
    malformed = st.text(max_size=20).filter(lambda s: "\x00" not in s)
    return st.one_of(strategy, strategy, malformed)


def _queries(document, path):
    parameters = document["paths"][path]["get"].get("parameters", [])
    chosen = st.lists(st.sampled_from(parameters), max_size=5) if parameters else st.just([])
    extra = st.lists(st.tuples(st.sampled_from(["x", "sort", "page"]), st.text(max_size=5)),
                     max_size=1)  # fmt: skip

    @st.composite
    def query(draw):
        pairs = [(p["name"], draw(_value_for(p["schema"]))) for p in draw(chosen)]
        return pairs + draw(extra)

    return query()


_DOCUMENT = openapi_document(make_settings())
_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("path", ["/api/v1/items", "/api/v1/series", "/api/v1/sources"])
def test_any_parameters_give_200_or_a_400_naming_a_parameter(client, path):
    @_PROPERTY
    @given(query=_queries(_DOCUMENT, path))
    def check(query):
        response = client.get(path, query_string=query)
        assert response.status_code in (200, 400), (query, response.data)
        if response.status_code == 200:
            validator(_DOCUMENT, response_schema(_DOCUMENT, path)).validate(response.json)
        else:
            validator(_DOCUMENT, "Error").validate(response.json)
            named = response.json["error"].split(":", 1)[0]
            assert named in {name for name, _ in query} | {"topic", "format"}, response.json

    check()


def test_any_download_parameters_give_a_file_or_a_400(client):
    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(query=_queries(_DOCUMENT, "/api/v1/export"))
    def check(query):
        response = client.get("/api/v1/export", query_string=query)
        assert response.status_code in (200, 400), (query, response.data)
        if response.status_code == 400:
            validator(_DOCUMENT, "Error").validate(response.json)
        else:
            assert int(response.headers["X-Export-Rows"]) <= len(ITEMS)

    check()


def test_items_on_postgresql_and_sqlite_page_the_same_way(engine):
    populate(engine)
    app = create_app(make_settings(), engine)
    client = app.test_client()
    titles, cursor = [], None
    while True:
        query = {"limit": 2, "query": "ukraine", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/items", query_string=query).json
        titles += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert titles == [ITEMS[i][0] for i in range(4)]
