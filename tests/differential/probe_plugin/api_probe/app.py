"""An application that answers with its environ (for paster request/post)."""
import json


def make_app(global_conf, **local_conf):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path.startswith("/status/"):
            code = path.rsplit("/", 1)[1]
            start_response(f"{code} Status {code}", [("Content-Type", "text/plain"),
                                                     ("X-Probe", "yes")])
            return [f"status {code}\n".encode()]
        if path == "/raise":
            raise RuntimeError("the probe app raised")
        report = {}
        for key, value in sorted(environ.items()):
            if isinstance(value, (str, bool, int)) or value is None:
                report[key] = value
            else:
                report[key] = f"<{type(value).__name__}>"
        if environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read()
            report["body"] = repr(body)
        report["local_conf"] = local_conf
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Probe", "yes")])
        return [json.dumps(report, indent=1, sort_keys=True).encode() + b"\n"]
    return app
