// Interop peer: loads smsgate's dashboard (`GET /`) into jsdom, a browser DOM nobody here
// wrote, runs its script against the live API with the given key, and prints what the tables
// show once the page says `live`: `TABLES {"queue": [[cell, ...], ...], ...}`.
// Usage: node check.js <base http://127.0.0.1:PORT> <api key>
'use strict';
const { JSDOM } = require('jsdom');

const [base, key] = process.argv.slice(2);
const fail = (why) => { console.log(`FAIL ${why}`); process.exit(1); };
setTimeout(() => fail('the dashboard never said "live"'), 20000).unref();

(async () => {
  const page = await fetch(`${base}/`);
  if (!page.ok) fail(`GET / answered ${page.status}`);
  const dom = new JSDOM(await page.text(), {
    url: `${base}/`,
    runScripts: 'dangerously',
    pretendToBeVisual: true,
    beforeParse(window) {
      // jsdom has no fetch; hand the page node's, resolving its relative paths, with the
      // browser's cookie behaviour for this origin (node's fetch keeps no cookies).
      let cookie = '';
      window.fetch = async (path, opts = {}) => {
        const headers = {...(opts.headers || {})};
        if (cookie) headers.Cookie = cookie;
        const r = await fetch(new URL(path, `${base}/`), {...opts, headers});
        const set = r.headers.get('set-cookie');
        if (set) {
          if (!set.includes('HttpOnly') || !set.includes('SameSite=Strict')) fail(`cookie flags: ${set}`);
          const pair = set.split(';')[0];
          cookie = pair.endsWith('=') ? '' : pair;
        }
        return r;
      };
    },
  });
  const doc = dom.window.document;
  // Sign in as a person would: the key into the form, once.
  const sleep0 = (ms) => new Promise((r) => setTimeout(r, ms));
  while (doc.getElementById('state').textContent !== 'sign in with an API key') await sleep0(50);
  doc.getElementById('key').value = key;
  doc.getElementById('signin').dispatchEvent(new dom.window.Event('submit', { cancelable: true }));
  const state = () => doc.getElementById('state').textContent;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  while (!state().startsWith('live')) await sleep(100);
  // One more refresh (every 2 s), so the tables show a settled state.
  await sleep(2200);
  if (!state().startsWith('live')) fail(`the page says: ${state()}`);
  const tables = {};
  for (const table of doc.querySelectorAll('table[id]')) {
    tables[table.id] = [...table.querySelectorAll('tbody tr')].map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent));
  }
  // The page kept nothing of the key: no storage, no input value.
  if (dom.window.localStorage.length !== 0) fail('the page stored something in localStorage');
  if (doc.getElementById('key').value !== '') fail('the key stayed in the input');
  console.log(`TABLES ${JSON.stringify(tables)}`);
  dom.window.close();
  process.exit(0);
})().catch((e) => fail(e.stack || String(e)));
