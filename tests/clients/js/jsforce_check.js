// Drives `sfsync emulator --tls` with jsforce, unmodified: the default
// login (SOAP partner login), a query with autoFetch, an array create
// (sObject Collections), limits() and identity(). Trust comes from
// NODE_EXTRA_CA_CERTS.
//
// Environment: SFSYNC_EMULATOR_URL, SF_USERNAME, SF_PASSWORD, SF_TOKEN,
// SF_SEEDED. Prints one `ok <step> <facts>` line per step; any failure
// exits 1.
'use strict';
const jsforce = require('jsforce');

const emu = process.env.SFSYNC_EMULATOR_URL.replace(/\/$/, '');
const seeded = Number(process.env.SF_SEEDED);

function check(cond, what) {
  if (!cond) {
    console.log(`FAILED ${what}`);
    process.exit(1);
  }
}

async function main() {
  const conn = new jsforce.Connection({ loginUrl: emu, version: '62.0' });
  const info = await conn.login(process.env.SF_USERNAME, process.env.SF_PASSWORD + process.env.SF_TOKEN);
  check(conn.instanceUrl === emu, `instanceUrl ${conn.instanceUrl}`);
  check(info.organizationId.startsWith('00D'), `org ${info.organizationId}`);
  console.log(`ok login org=${info.organizationId.slice(0, 3)} user=${info.id.slice(0, 3)}`);

  const bad = new jsforce.Connection({ loginUrl: emu, version: '62.0' });
  try {
    await bad.login(process.env.SF_USERNAME, 'wrong');
    check(false, 'a wrong password logged in');
  } catch (e) {
    check(/INVALID_LOGIN/.test(String(e.message)), `fault ${e.message}`);
    console.log('ok login_refused INVALID_LOGIN');
  }

  const res = await conn.query('SELECT Id, Username FROM User').autoFetch(true).maxFetch(100000);
  check(res.totalSize === seeded, `totalSize ${res.totalSize}`);
  check(res.records.length === seeded, `records ${res.records.length}`);
  console.log(`ok query_autofetch records=${res.records.length}`);

  const profile = (await conn.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")).records[0].Id;
  const rec = (n) => ({
    Username: `js${n}@clients.example.com`, Email: `js${n}@clients.example.com`,
    LastName: `Node${n}`, Alias: `js${n}`, TimeZoneSidKey: 'Europe/Paris', LocaleSidKey: 'fr_FR',
    EmailEncodingKey: 'UTF-8', LanguageLocaleKey: 'fr', ProfileId: profile,
  });
  const created = await conn.sobject('User').create([rec(1), rec(2), rec(1)]);
  check(created.length === 3, `results ${created.length}`);
  check(created[0].success && created[1].success, 'first two created');
  check(!created[2].success && created[2].errors[0].statusCode === 'DUPLICATE_USERNAME',
    `third ${JSON.stringify(created[2])}`);
  console.log(`ok array_create created=2 refused=${created[2].errors[0].statusCode}`);

  const limits = await conn.limits();
  check(limits.DailyApiRequests.Max > limits.DailyApiRequests.Remaining, 'limits');
  console.log(`ok limits max=${limits.DailyApiRequests.Max}`);

  const id = await conn.identity();
  check(id.username === process.env.SF_USERNAME, `identity ${id.username}`);
  check(id.organization_id === info.organizationId, 'identity org');
  console.log(`ok identity username=${id.username}`);
}

main().catch((e) => {
  console.log(`FAILED ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
