// Also `SEARCH <number>` (prints `SEARCHED <rows>` once every row is to that number),
// `TIMELINE <text>` (clicks that message's row, prints `TIMELINE <event,…>`),
// `ESTIMATE <text>` (types into the send form, prints `ESTIMATED <shown>`) and `ACK <id>`
// (clicks the alert's ack button, prints `ACKED <id>` once its row is gone).
// Interop peer: the dashboard in jsdom with a minimal EventSource (jsdom has none) over node's
// fetch, as a browser would run it: signs in through the form, waits until the page says it
// is live on the stream, prints `READY`, then waits for a line `EXPECT <text>` on stdin and
// prints `SEEN <ms> <stream|polling>` once the messages table shows a row with that text and status
// `delivered` (no reload: with the stream up the page polls only every 30 s).
// Usage: node live.js <base http://127.0.0.1:PORT> <api key>
'use strict';
const { JSDOM } = require('jsdom');
const readline = require('readline');

const [base, key] = process.argv.slice(2);
const fail = (why) => { console.log(`FAIL ${why}`); process.exit(1); };
setTimeout(() => fail('timed out'), 40000).unref();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const page = await fetch(`${base}/`);
  const dom = new JSDOM(await page.text(), {
    url: `${base}/`,
    runScripts: 'dangerously',
    pretendToBeVisual: true,
    beforeParse(window) {
      let cookie = '';
      const f = async (path, opts = {}) => {
        const headers = {...(opts.headers || {})};
        if (cookie) headers.Cookie = cookie;
        const r = await fetch(new URL(path, `${base}/`), {...opts, headers});
        const set = r.headers.get('set-cookie');
        if (set) { const pair = set.split(';')[0]; cookie = pair.endsWith('=') ? '' : pair; }
        return r;
      };
      window.fetch = f;
      // The EventSource surface the page uses: named events, onopen, onerror, close.
      window.EventSource = class {
        constructor(url) {
          this.listeners = {};
          this.closed = false;
          this.run(url).catch(() => this.onerror && this.onerror());
        }
        addEventListener(name, fn) { (this.listeners[name] ||= []).push(fn); }
        close() { this.closed = true; if (this.reader) this.reader.cancel().catch(() => {}); }
        async run(url) {
          const r = await f(url, { headers: { Accept: 'text/event-stream' } });
          if (!r.ok) throw new Error(`stream answered ${r.status}`);
          this.onopen && this.onopen();
          this.reader = r.body.getReader();
          const dec = new TextDecoder();
          let buf = '';
          while (!this.closed) {
            const { value, done } = await this.reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true });
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const frame = buf.slice(0, i); buf = buf.slice(i + 2);
              let name = 'message', data = '';
              for (const line of frame.split('\n')) {
                if (line.startsWith('event:')) name = line.slice(6).trim();
                else if (line.startsWith('data:')) data += line.slice(5).trim();
              }
              for (const fn of this.listeners[name] || []) fn({ type: name, data });
            }
          }
          this.onerror && this.onerror();
        }
      };
    },
  });
  const doc = dom.window.document;
  const state = () => doc.getElementById('state').textContent;
  while (state() !== 'sign in with an API key') await sleep(50);
  doc.getElementById('key').value = key;
  doc.getElementById('signin').dispatchEvent(new dom.window.Event('submit', { cancelable: true }));
  while (!state().startsWith('live · stream')) await sleep(100);
  console.log('READY');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.startsWith('ESTIMATE ')) {
      // Typing into the send form shows what the text costs.
      const ta = doc.querySelector('#send textarea');
      ta.value = line.slice(9);
      ta.dispatchEvent(new dom.window.Event('input'));
      while (!doc.getElementById('estimate').textContent) await sleep(50);
      console.log(`ESTIMATED ${doc.getElementById('estimate').textContent}`);
      continue;
    }
    if (line.startsWith('SEARCH ')) {
      // The search form with a number: done when every row shows it.
      const to = line.slice(7);
      doc.querySelector('#search input[name=to]').value = to;
      doc.getElementById('search').dispatchEvent(new dom.window.Event('submit', { cancelable: true }));
      let cells;
      for (;;) {
        cells = [...doc.querySelectorAll('#messages tbody tr')].map((tr) => tr.querySelectorAll('td')[1]?.textContent);
        if (cells.length && cells.every((c) => c === to)) break;
        await sleep(50);
      }
      console.log(`SEARCHED ${cells.length}`);
      continue;
    }
    if (line.startsWith('TIMELINE ')) {
      // A click on the row with that text: its timeline, once it shows `delivered`.
      const text = line.slice(9);
      const tr = [...doc.querySelectorAll('#messages tbody tr')].find((r) => r.querySelectorAll('td')[2]?.textContent === text);
      if (!tr) fail(`no row with ${text}`);
      tr.querySelector('td').dispatchEvent(new dom.window.Event('click', { bubbles: true }));
      while (!doc.getElementById('timeline').textContent.includes('delivered')) await sleep(50);
      const items = [...doc.querySelectorAll('#timeline li')].map((li) => li.textContent.split(' ')[1]);
      console.log(`TIMELINE ${items.join(',')}`);
      continue;
    }
    if (line.startsWith('SILENT ')) {
      // The device's row is highlighted as silent.
      const id = line.slice(7);
      while (!doc.querySelector(`#devices tr.silent[data-device="${id}"]`)) await sleep(50);
      console.log(`SILENT ${id}`);
      continue;
    }
    if (line.startsWith('COMMAND ')) {
      // The command form: device and command, then its answer.
      const [, device, ...cmd] = line.split(' ');
      const sel = doc.querySelector('#command select');
      while (![...sel.options].some((o) => o.value === device)) await sleep(50);
      sel.value = device;
      doc.querySelector('#command input[name=command]').value = cmd.join(' ');
      doc.getElementById('command').dispatchEvent(new dom.window.Event('submit', { cancelable: true }));
      while (!doc.getElementById('commandresult').textContent) await sleep(50);
      console.log(`COMMANDED ${doc.getElementById('commandresult').textContent}`);
      continue;
    }
    if (line.startsWith('ACK ')) {
      // The alert's ack button, as a person clicks it; done once its row is gone.
      const id = line.slice(4);
      let button;
      while (!(button = doc.querySelector(`#alerts button[data-ack="${id}"]`))) await sleep(50);
      button.dispatchEvent(new dom.window.Event('click', { bubbles: true }));
      while (doc.querySelector(`#alerts button[data-ack="${id}"]`)) await sleep(50);
      console.log(`ACKED ${id}`);
      continue;
    }
    if (!line.startsWith('EXPECT ')) continue;
    const text = line.slice(7);
    const t0 = Date.now();
    for (;;) {
      const hit = [...doc.querySelectorAll('#messages tbody tr')].some((tr) => {
        const td = [...tr.querySelectorAll('td')].map((c) => c.textContent);
        return td[2] === text && td[3] === 'delivered';
      });
      if (hit) break;
      await sleep(50);
    }
    console.log(`SEEN ${Date.now() - t0} ${state().startsWith('live · stream') ? 'stream' : 'polling'}`);
    dom.window.close();
    process.exit(0);
  }
})().catch((e) => fail(e.stack || String(e)));
