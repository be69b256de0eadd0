"""Locust users for bench/bench_locust.py (issue 15): people browsing a team's gallery.

Run through bench/bench_locust.py, which makes the data, the sessions (LOCUST_SESSIONS: one
session cookie per line) and the servers, on loopback only. Each simulated person:

* views the gallery's finished items (``?status=succeeded``: 60 tiles with thumbnails, not
  the in-flight tiles this test's own generations add at the top) as a browser with an empty
  cache does: the HTML, then every thumbnail the page shows, six at a time
  (``gallery html``, ``thumbnail``, and the whole view as ``cold gallery view``);
* scrolls: the next page of tiles, as the infinite scroll asks for it (``scroll``);
* opens an item's detail page (``details``);
* now and then generates an image against the simulator (``generate``).

With LOCUST_THUMBS_FROM set (the baseline run), the same thumbnails are fetched from that
plain static server instead of the app: the same bytes, by path.
"""

from __future__ import annotations

import html
import itertools
import os
import random
import re
import time
from pathlib import Path

import gevent.pool
from locust import HttpUser, between, task
from requests.adapters import HTTPAdapter

SESSIONS = itertools.cycle(Path(os.environ["LOCUST_SESSIONS"]).read_text().split())
IMG = re.compile(r'<img src="([^"]+)"')
TILE = re.compile(r'id="tile-([0-9a-f-]{36})"')
MORE = re.compile(r'hx-get="([^"]+cursor=[^"]+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
THUMBS_FROM = os.environ.get("LOCUST_THUMBS_FROM", "")


def thumbnail_url(src: str) -> str:
    return f"{THUMBS_FROM}{src.split('?', 1)[0]}" if THUMBS_FROM else src


class Person(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        # Six connections per host, and one retry when a kept-alive connection was closed by
        # the server meanwhile (gunicorn's keep-alive is 2 s), as a browser does.
        self.client.mount("http://", HTTPAdapter(max_retries=1, pool_maxsize=6))
        self.client.cookies.set("sessionid", next(SESSIONS), domain="127.0.0.1")
        self.tiles: list[str] = []
        self.more = ""

    @task(5)
    def browse(self) -> None:
        started = time.perf_counter()
        # The finished items: every run's page holds 60 thumbnails, however many of the
        # generations this test makes are still in flight at the top of the gallery.
        with self.client.get(
            "/?status=succeeded", name="gallery html", catch_response=True
        ) as page:
            if page.status_code != 200 or 'id="grid"' not in page.text:
                page.failure(f"gallery: {page.status_code}")
                return
            text = page.text
            if not IMG.search(text):  # a cold view without its thumbnails measures nothing
                page.failure("gallery: no thumbnails on the page")
                return
        self.tiles = TILE.findall(text) or self.tiles
        more = MORE.search(text)
        self.more = html.unescape(more.group(1)) if more else ""
        urls = [thumbnail_url(html.unescape(u)) for u in IMG.findall(text)]
        pool = gevent.pool.Pool(6)  # a browser's connections per host
        for url in urls:
            pool.spawn(self.client.get, url, name="thumbnail")
        pool.join()
        self.environment.events.request.fire(
            request_type="VIEW",
            name="cold gallery view (html + thumbnails)",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=None,
            context={},
        )

    @task(2)
    def scroll(self) -> None:
        if not self.more:
            return
        with self.client.get(
            self.more, name="scroll", headers={"HX-Request": "true"}, catch_response=True
        ) as page:
            if page.status_code != 200:
                page.failure(f"scroll: {page.status_code}")
                return
            more = MORE.search(page.text)
            self.more = html.unescape(more.group(1)) if more else ""

    @task(2)
    def details(self) -> None:
        if self.tiles:
            self.client.get(f"/items/{random.choice(self.tiles)}/", name="details")

    @task(1)
    def generate(self) -> None:
        form = self.client.get("/generate/", name="generate form")
        token = CSRF.search(form.text)
        if not token:
            return
        self.client.post(
            "/generate/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "prompt": "a lighthouse at dusk, load test",
                "batch_size": "1",
                "p_size": "2K",
            },
            headers={"Referer": f"{self.host}/generate/"},
            name="generate",
        )
