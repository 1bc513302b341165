// browser.js - drive kairan's web pages in headless Chromium with
// playwright-core (the Debian chromium at /usr/bin/chromium).  Called by
// tests/e2e/test_web_browser.py with a JSON config file; prints one JSON
// line per check ({"ok": bool, "name": ..., "detail": ...}) for the Python
// side to turn into TAP, and saves a screenshot of each step.
'use strict';
const fs = require('fs');
const path = require('path');
const H = require('./harness');

const cfg = H.config();
const shots = cfg.screenshots;

const report = H.reporter();

// decodeBody - the text of a queued mail: base64 or quoted-printable
// bodies decoded, so a link split by soft line breaks is whole again.
function decodeBody(raw) {
  const text = raw.toString('latin1');
  const out = [];
  const parts = text.split(/\n--[^\n]*\n/);
  for (const part of parts) {
    const idx = part.indexOf('\n\n');
    if (idx < 0) { out.push(part); continue; }
    const head = part.slice(0, idx).toLowerCase();
    let body = part.slice(idx + 2);
    if (head.includes('content-transfer-encoding: base64')) {
      body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    } else if (head.includes('content-transfer-encoding: quoted-printable')) {
      body = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    }
    out.push(body);
  }
  return out.join('\n');
}

function confirmLinks() {
  const dir = path.join(cfg.home, 'queue', 'msg');
  const links = [];
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith('.')) continue;
    const m = decodeBody(fs.readFileSync(path.join(dir, f))).match(/https?:\/\/\S+?\/confirm\/[0-9a-f]{32}/g);
    if (m) links.push(...m);
  }
  return links;
}

const step = H.stepper(report);

(async () => {
  const browser = await H.launch(cfg);
  try {
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } });
    const page = await ctx.newPage();
    const U = cfg.url;

    await step('log in as the owner', async () => {
      await page.goto(U + '/login');
      await page.fill('input[name=address]', cfg.owner);
      await page.fill('input[name=password]', cfg.password);
      await page.click('form.box button[type=submit]');
      await page.waitForURL(U + '/admin');
      await page.screenshot({ path: path.join(shots, '01-overview.png'), fullPage: true });
      const t = await page.textContent('main');
      report(t.includes(cfg.list) && t.includes('Held posts'), 'log in as the owner', t);
    });

    await step('add a member', async () => {
      await page.goto(U + `/admin/${cfg.list}/members`);
      await page.fill('#add-address', 'browser-added@example.org');
      await page.fill('#add-name', '山田 花子');
      await page.click('#add-submit');
      await page.waitForSelector('.alert.ok');
      await page.screenshot({ path: path.join(shots, '02-members.png'), fullPage: true });
      const t = await page.textContent('main');
      report(t.includes('browser-added@example.org') && t.includes('山田 花子') && t.includes('Added: 1'), 'add a member', t);
    });

    await step('approve a held post', async () => {
      await page.goto(U + `/admin/${cfg.list}/held`);
      await page.click(`text=${cfg.heldSubject}`);
      await page.waitForSelector('pre.body');
      await page.screenshot({ path: path.join(shots, '03-held-post.png'), fullPage: true });
      await page.click('button[value=approve]');
      await page.waitForSelector('.alert.ok');
      const t = await page.textContent('main');
      report(t.includes('Posts approved: 1') && t.includes('No posts are waiting'), 'approve a held post', t);
    });

    await step('change a setting', async () => {
      await page.goto(U + `/admin/${cfg.list}/settings`);
      // each section is a form of its own: max_size is under Limits
      await page.fill('#s-max_size', 'lots');
      await page.click('#sec-limits button[type=submit]');
      await page.waitForSelector('.field-error');
      await page.screenshot({ path: path.join(shots, '04-settings-error.png'), fullPage: false });
      const err = await page.textContent('.field.invalid');
      report(err.includes('not a number'), 'an invalid setting shows its error next to the field', err);
      await page.fill('#s-max_size', '200000');
      await page.click('#sec-limits button[type=submit]');
      await page.waitForSelector('.alert.ok');
      await page.selectOption('#s-post_policy', 'anyone');
      await page.fill('#s-description', 'Browser test list');
      await page.click('#sec-posting button[type=submit]');
      await page.waitForSelector('.alert.ok');
      const t = await page.textContent('.alert.ok');
      report(t.includes('Settings saved'), 'change a setting', t);
    });

    await step('read a Japanese post in the archive', async () => {
      if (!cfg.jpNum) { report(true, 'read a Japanese post # SKIP corpus absent'); return; }
      await page.goto(U + `/list/${cfg.list}/archive`);
      await page.screenshot({ path: path.join(shots, '05-archive.png'), fullPage: true });
      await page.goto(U + `/list/${cfg.list}/archive/${cfg.jpNum}`);
      await page.screenshot({ path: path.join(shots, '06-japanese-post.png'), fullPage: true });
      const body = await page.textContent('pre.body');
      const subj = await page.textContent('dd.subject');
      report(cfg.jpWords.every(w => (body + subj).includes(w)), 'read a Japanese post in the archive', subj + '\n' + body);
    });

    await step('phone-sized members page', async () => {
      const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, locale: 'ja-JP' });
      await phone.addCookies((await ctx.cookies()).map(c => ({ ...c })));
      const p = await phone.newPage();
      await p.goto(U + `/admin/${cfg.list}/members?lang=ja`);
      await p.screenshot({ path: path.join(shots, '07-members-phone-ja.png'), fullPage: true });
      const w = await p.evaluate(() => document.documentElement.scrollWidth);
      report(w <= 380, 'the members page fits a phone screen (no sideways scrolling)', 'scrollWidth ' + w);
      await phone.close();
    });

    await step('subscribe through the public form and confirm through the mailed link', async () => {
      const anon = await browser.newContext({ locale: 'en-US' });
      const p = await anon.newPage();
      await p.goto(U + `/list/${cfg.list}`);
      await p.click('a.button');
      await p.fill('input[name=address]', 'browser-sub@example.org');
      await p.fill('input[name=name]', 'Browser Sub');
      await p.click('form.box button[type=submit]');
      await p.waitForSelector('.alert.ok');
      await p.screenshot({ path: path.join(shots, '08-subscribe-sent.png') });
      const links = confirmLinks();
      report(links.length === 1, 'the confirmation mail in the queue carries one link', links.join(' '));
      await p.goto(links[0]);
      await p.screenshot({ path: path.join(shots, '09-confirm.png') });
      await p.click('form.box button[type=submit]');
      await p.waitForSelector('.alert.ok');
      const t = await p.textContent('.alert.ok');
      report(t.includes('You are now subscribed'), 'subscribe through the public form and confirm through the mailed link', t);
      await p.screenshot({ path: path.join(shots, '10-subscribed.png') });
      await anon.close();
    });
  } finally {
    await browser.close();
  }
})().catch(e => { report(false, 'browser run', e.stack || e); process.exit(1); });
