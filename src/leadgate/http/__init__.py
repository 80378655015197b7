"""leadgate's HTTP edge: the collector (Segment Tracking API), the tag SDK, the demo page and
the health endpoints, composed by :func:`leadgate.http.app.build_http_app`."""
