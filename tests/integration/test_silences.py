"""Silences over the HTTP API (collector/http_silences.c): GET/POST /api/v1/silences and
DELETE /api/v1/silence/<id> against a running collector with the alert engine on, a
firing pool alert kept from a webhook receiver by a silence made through the API and
notified once the silence is expired, the alert marked silenced in /api/v1/alerts,
roles and tenant scope, the audit log, and every kind of bad input answered 400 with
the reason.

Data comes from `poolwatch import`; every wait is on a receiver's message or the API.
"""
import json
import time
import unittest

from pwtest import SLOW, ApiCollectorTest, wait_until
from test_alerts import Receiver


class SilencesApiTest(ApiCollectorTest):

    def start(self):
        return self.start_api_collector("--capacity-interval", "0", "--alert-interval", "200ms")

    def call(self, method, path, token, body=None, ctype="application/json"):
        """(status, headers, JSON or None)."""
        st, hdrs, data = self.http(method, path, token, body, ctype)
        return st, hdrs, json.loads(data or b"null")

    def active(self, token):
        st, _, body = self.call("GET", "/api/v1/alerts", token)
        self.assertEqual(st, 200)
        return {a["labels"].get("pool"): a for a in body["data"]["alerts"]}

    def test_silences_api(self):
        rcv = Receiver()
        self.addCleanup(rcv.close)
        self.write_config(
            "alerts:\n"
            "  rules:\n"
            "    - {name: PoolCapacityWarning, for: 0}\n"
            "  receivers:\n"
            "    - {name: ops, type: webhook, url: 'http://127.0.0.1:%d/'}\n" % rcv.port)
        admin = self.token("--role", "admin", "--name", "it-admin")
        oper = self.token("--role", "operator", "--name", "duty-operator")
        auditor = self.token("--role", "auditor", "--name", "it-auditor")
        tenant = self.token("--role", "tenant", "--tenant", "unit-a", "--name", "it-tenant")
        self.start()

        # An operator silences pool ps for an hour, before anything fires.
        st, _, body = self.call("POST", "/api/v1/silences", oper, {
            "matchers": [{"name": "pool", "value": "ps", "isRegex": False, "isEqual": True},
                         {"name": "alertname", "value": "Pool.*", "isRegex": True}],
            "duration": "1h", "comment": "扩容维护 maintenance", "createdBy": "someone else"})
        self.assertEqual(st, 200, body)
        sid = body["data"]["silenceID"]
        s = body["data"]["silence"]
        self.assertEqual(s["id"], sid)
        self.assertEqual(s["createdBy"], "duty-operator")        # the token's name, not the body's
        self.assertEqual(s["comment"], "扩容维护 maintenance")
        self.assertEqual(s["status"], {"state": "active"})
        self.assertEqual(s["matchers"], [
            {"name": "pool", "value": "ps", "isRegex": False, "isEqual": True},
            {"name": "alertname", "value": "Pool.*", "isRegex": True, "isEqual": True}])
        self.assertRegex(s["endsAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        # Two pools over 70 %: pt is notified, ps is silenced (and marked so).
        now = self.now_ms()
        self.put(['poolwatch_pool_allocated_ratio{pool="ps",resource="cpu"} 0.8 %d' % now,
                  'poolwatch_pool_allocated_ratio{pool="pt",resource="cpu"} 0.8 %d' % now])
        wait_until(lambda: rcv.messages(), 10 * SLOW, "pt's message")
        wait_until(lambda: self.active(admin).get("ps", {}).get("silenced_by"), 10 * SLOW,
                   "ps marked silenced")
        act = self.active(admin)
        self.assertEqual(act["ps"]["state"], "firing")
        self.assertEqual(act["ps"]["silenced_by"], [sid])
        self.assertFalse(act["pt"].get("silenced_by"))
        self.assertEqual([m[2]["groupLabels"]["pool"] for m in rcv.messages()], ["pt"])

        # The list: every reading role, newest first; a tenant sees only silences naming it.
        st, _, body = self.call("POST", "/api/v1/silences", admin, {
            "matchers": [{"name": "tenant", "value": "unit-a"}], "endsAt":
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))})
        self.assertEqual(st, 200, body)
        tsid = body["data"]["silenceID"]
        for tok in (admin, oper, auditor):
            st, _, body = self.call("GET", "/api/v1/silences", tok)
            self.assertEqual(st, 200)
            self.assertEqual([x["id"] for x in body["data"]["silences"]], [tsid, sid])
        st, _, body = self.call("GET", "/api/v1/silences", tenant)
        self.assertEqual((st, [x["id"] for x in body["data"]["silences"]]), (200, [tsid]))
        st, _, body = self.call("GET", "/api/v1/silences?state=expired", admin)
        self.assertEqual((st, body["data"]["silences"]), (200, []))
        st, _, body = self.call("GET", "/api/v1/silences?state=gone", admin)
        self.assertEqual(st, 400)
        # The CLI reads the same records.
        listing = json.loads(self.cli("alerts", "silence", "list", "--format", "json").stdout)
        self.assertEqual([(x["id"], x["author"]) for x in listing],
                         [(sid, "duty-operator"), (tsid, "it-admin")])

        # Who may change them: admin and operator only.
        ok = {"matchers": [{"name": "pool", "value": "x"}], "duration": "1h"}
        for tok in (auditor, tenant):
            st, _, body = self.call("POST", "/api/v1/silences", tok, ok)
            self.assertEqual((st, body["errorType"]), (403, "forbidden"))
            st, _, body = self.call("DELETE", "/api/v1/silence/%d" % sid, tok)
            self.assertEqual((st, body["errorType"]), (403, "forbidden"))

        # Bad input: 400 with the reason.
        past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
        bad = [
            (b"{not json", "the body is not JSON: line 1"),
            ([1, 2], "must be a JSON object"),
            ({"duration": "1h"}, "\"matchers\" must be a non-empty array"),
            ({"matchers": [], "duration": "1h"}, "\"matchers\" must be a non-empty array"),
            ({"matchers": [{"name": "pool"}], "duration": "1h"}, "matchers[0]: needs \"name\" and \"value\""),
            ({"matchers": [{"name": "po-ol", "value": "a"}], "duration": "1h"}, "is not a label name"),
            ({"matchers": [{"name": "pool", "value": "a", "isRegex": "yes"}], "duration": "1h"},
             "\"isRegex\" and \"isEqual\" are true or false"),
            ({"matchers": [{"name": "pool", "value": "(a", "isRegex": True}], "duration": "1h"},
             "matchers[0]: matcher \"pool=~(a\": not a regular expression"),
            ({"matchers": [{"name": "pool", "value": ".*", "isRegex": True}], "duration": "1h"},
             "at least one must not match the empty string"),
            ({"matchers": [{"name": "pool", "value": "a"}]}, "give \"endsAt\" or \"duration\""),
            ({"matchers": [{"name": "pool", "value": "a"}], "duration": "1h", "endsAt": past},
             "give \"endsAt\" or \"duration\""),
            ({"matchers": [{"name": "pool", "value": "a"}], "endsAt": past}, "\"endsAt\" is in the past"),
            ({"matchers": [{"name": "pool", "value": "a"}], "endsAt": "tomorrow"}, "\"endsAt\" is not a time"),
            ({"matchers": [{"name": "pool", "value": "a"}], "duration": "-1h"}, "not a positive duration"),
            ({"matchers": [{"name": "pool", "value": "a"}], "duration": "400d"},
             "the silence is too long: 400 days; at most 366"),
            ({"matchers": [{"name": "pool", "value": "a"}], "duration": "1h", "comment": "x" * 1025},
             "\"comment\" must be a string of at most 1024 bytes"),
            ({"matchers": [{"name": "pool", "value": "a" * 1025}], "duration": "1h"},
             "longer than 1024 bytes"),
            ({"matchers": [{"name": "pool", "value": "a"}] * 33, "duration": "1h"}, "at most 32"),
            ({"matchers": [{"name": "pool", "value": "a"}], "duration": "1h", "until": "x"},
             "unknown field \"until\""),
            ({"matchers": [{"name": "pool", "value": "a"}], "duration": "1h", "id": "7"},
             "a silence cannot be changed"),
        ]
        for payload, want in bad:
            st, _, body = self.call("POST", "/api/v1/silences", admin, payload)
            self.assertEqual((st, body["errorType"]), (400, "bad_data"), payload)
            self.assertIn(want, body["error"], payload)
        st, _, body = self.call("POST", "/api/v1/silences", admin, "matchers=pool%3Da",
                                ctype="application/x-www-form-urlencoded")
        self.assertEqual(st, 400)
        self.assertIn("must be JSON", body["error"])
        st, _, body = self.call("POST", "/api/v1/silences", admin)
        self.assertEqual(st, 400)
        self.assertIn("no body", body["error"])
        st, _, body = self.call("DELETE", "/api/v1/silence/abc", admin)
        self.assertEqual(st, 400)
        st, _, body = self.call("DELETE", "/api/v1/silence/999999", admin)
        self.assertEqual((st, body["errorType"]), (404, "not_found"))
        # Methods: one path, a route per method; others are 405 with the right Allow.
        st, hdrs, _ = self.call("PUT", "/api/v1/silences", admin)
        self.assertEqual((st, hdrs.get("allow")), (405, "GET, HEAD, POST"))
        st, hdrs, _ = self.call("GET", "/api/v1/silence/%d" % sid, admin)
        self.assertEqual((st, hdrs.get("allow")), (405, "DELETE"))
        st, hdrs, _ = self.call("DELETE", "/api/v1/alerts", admin)
        self.assertEqual((st, hdrs.get("allow")), (405, "GET, HEAD"))

        # Expire: ps is no longer silenced and is notified.
        st, _, body = self.call("DELETE", "/api/v1/silence/%d" % sid, oper)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["data"]["silenceID"], sid)
        self.assertEqual(body["data"]["silence"]["status"], {"state": "expired"})
        wait_until(lambda: any(m[2]["groupLabels"]["pool"] == "ps" for m in rcv.messages()),
                   10 * SLOW, "ps's message after the silence ended")
        wait_until(lambda: not self.active(admin)["ps"].get("silenced_by"), 10 * SLOW, "ps unmarked")
        st, _, body = self.call("GET", "/api/v1/silences?state=active", admin)
        self.assertEqual([x["id"] for x in body["data"]["silences"]], [tsid])

        # Audited: who did what to which silence.
        st, _, body = self.call("GET", "/api/v1/audit?limit=10000&from=%d" % (time.time() - 3600),
                                admin)
        recs = [(r["action"], r["principal"], r["result"], r["object"]) for r in body["data"]["records"]
                if "silence" in r["action"]]
        self.assertIn(("POST /api/v1/silences", "duty-operator", "ok", "pool=ps alertname=~Pool.*"), recs)
        self.assertIn(("DELETE /api/v1/silence/:id", "duty-operator", "ok", str(sid)), recs)
        self.assertIn(("POST /api/v1/silences", "it-auditor", "denied", ""), recs)
        self.assertIn(("POST /api/v1/silences", "it-admin", "failed", "pool=~.*"), recs)


if __name__ == "__main__":
    unittest.main()
