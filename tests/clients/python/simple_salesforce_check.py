"""Drives `sfsync emulator --tls` with simple-salesforce, unmodified.

simple-salesforce always logs in at https://{domain}.salesforce.com; the
LocalSalesforce session below sends those login calls to the emulator
instead (after login every call goes to the instance the answer names,
which is the emulator itself). Trust comes from REQUESTS_CA_BUNDLE.

Environment: SFSYNC_EMULATOR_URL, SF_USERNAME, SF_PASSWORD, SF_TOKEN,
SF_CONSUMER_KEY, SF_PRIVATE_KEY (PEM file), SF_SEEDED (users in the seed).
Prints one `ok <step> <facts>` line per step; any failure raises (exit 1).
"""
import os
import sys
from urllib.parse import urlsplit

import requests
from simple_salesforce import Salesforce, SalesforceAuthenticationFailed

EMU = os.environ["SFSYNC_EMULATOR_URL"].rstrip("/")


class LocalSalesforce(requests.Session):
    """Sends https://login.salesforce.com/... (and test.) to the emulator."""

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith(".salesforce.com"):
            url = EMU + parts.path + (("?" + parts.query) if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def step(name, facts):
    print(f"ok {name} {facts}", flush=True)


def check(cond, what):
    if not cond:
        print(f"FAILED {what}", flush=True)
        sys.exit(1)


user = os.environ["SF_USERNAME"]
seeded = int(os.environ["SF_SEEDED"])
emu_host = urlsplit(EMU).netloc

# Default login: the SOAP partner login with username, password and security token.
sf = Salesforce(
    username=user,
    password=os.environ["SF_PASSWORD"],
    security_token=os.environ["SF_TOKEN"],
    session=LocalSalesforce(),
)
check(sf.sf_instance == emu_host, f"instance {sf.sf_instance} != {emu_host}")
check(sf.session_id.startswith("00D"), "session id shape")
step("soap_login", f"instance={sf.sf_instance}")

# Wrong password: the documented fault reaches the caller as INVALID_LOGIN.
try:
    Salesforce(username=user, password="wrong", security_token="x", session=LocalSalesforce())
    check(False, "a wrong password logged in")
except SalesforceAuthenticationFailed as e:
    check(e.code == "INVALID_LOGIN", f"fault code {e.code}")
    step("soap_login_refused", f"code={e.code}")

# query_all follows nextRecordsUrl until done.
res = sf.query_all("SELECT Id, Username FROM User")
check(res["totalSize"] == seeded, f"totalSize {res['totalSize']}")
check(len(res["records"]) == seeded, f"records {len(res['records'])}")
check(list(res["records"][0].keys())[0] == "attributes", "attributes first")
step("query_all", f"records={len(res['records'])}")

profile = sf.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")["records"][0]["Id"]


def new_user(n):
    return {
        "Username": f"py{n}@clients.example.com",
        "Email": f"py{n}@clients.example.com",
        "LastName": f"Python{n}",
        "Alias": f"py{n}",
        "TimeZoneSidKey": "Europe/London",
        "LocaleSidKey": "en_GB",
        "EmailEncodingKey": "UTF-8",
        "LanguageLocaleKey": "en_US",
        "ProfileId": profile,
    }


created = sf.User.create(new_user(1))
check(created["success"] is True and created["id"].startswith("005"), f"create {created}")
step("user_create", f"success={created['success']}")

got = sf.User.get(created["id"])
check(got["Username"] == "py1@clients.example.com", f"get {got.get('Username')}")
step("user_get", f"username={got['Username']}")

records = [dict(new_user(n), attributes={"type": "User"}) for n in (2, 3)]
coll = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
check(len(coll) == 2 and all(r["success"] for r in coll), f"collection {coll}")
step("composite_sobjects", f"created={sum(1 for r in coll if r['success'])}")

limits = sf.limits()
daily = limits["DailyApiRequests"]
check(daily["Max"] > daily["Remaining"], f"limits {daily}")
step("limits", f"max={daily['Max']}")

desc = sf.User.describe()
tz = next(f for f in desc["fields"] if f["name"] == "TimeZoneSidKey")
check(tz["type"] == "picklist" and tz["picklistValues"], "TimeZoneSidKey picklist")
step("describe", f"fields={len(desc['fields'])}")

# JWT bearer login: simple-salesforce signs with the private key; its `exp` is a string.
jwt_sf = Salesforce(
    username=user,
    consumer_key=os.environ["SF_CONSUMER_KEY"],
    privatekey_file=os.environ["SF_PRIVATE_KEY"],
    session=LocalSalesforce(),
)
n = jwt_sf.query("SELECT COUNT() FROM User")["totalSize"]
check(n == seeded + 3, f"count after creates {n}")
step("jwt_login", f"users={n}")
