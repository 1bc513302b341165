// settings_text.js - the settings page's several-line settings (s12-webfix)
// in headless Chromium, through playwright-core: banned, header_filters
// and autorespond_admin_text are textareas; the owner types several lines
// into each (the browser sends CRLF), saves the Moderation section, and
// after a reload each textarea shows the lines as typed (patterns and
// rules one a line), sized to them (screenshots of the two fields); a bad pattern is shown at its field
// with the key named and the typed lines kept.  Called by
// tests/e2e/test_web_settings_text_browser.py once for each front end
// (cfg.url is the base); prints one JSON line per check like site.js and
// saves screenshots in cfg.screenshots.
'use strict';
const fs = require('fs');
const path = require('path');
const H = require('./harness');

const cfg = H.config();
const shots = cfg.screenshots;
const K = cfg.kind;

const report = H.reporter(K);

const step = H.stepper(report);

(async () => {
  const browser = await H.launch(cfg);
  const U = cfg.url;
  try {
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(U + '/login');
    await page.fill('input[name=address]', cfg.owner);
    await page.fill('input[name=password]', cfg.password);
    await page.click('form.box button[type=submit]');
    await page.waitForURL(U + '/admin');

    await step('several-line settings are textareas', async () => {
      await page.goto(U + '/admin/team/settings');
      const tags = {};
      for (const k of ['banned', 'header_filters', 'autorespond_admin_text', 'footer', 'hold_nonmembers'])
        tags[k] = await page.evaluate(id => document.getElementById(id).tagName, 's-' + k);
      report(Object.values(tags).every(t => t === 'TEXTAREA'), 'banned, header_filters and the texts are textareas',
        JSON.stringify(tags));
    });

    await step('lines typed, saved and shown again', async () => {
      await page.fill('#s-banned', cfg.banned);
      await page.fill('#s-header_filters', cfg.rules);
      await page.fill('#s-autorespond_admin_text', cfg.text);
      await page.screenshot({ path: path.join(shots, `${K}-01-typed.png`), fullPage: true });
      await page.click('#sec-moderation button[type=submit]');
      await page.waitForSelector('.alert.ok');
      const ok = await page.textContent('.alert.ok');
      report(ok.includes('Settings saved'), 'the Moderation section is saved', ok);
      await page.goto(U + '/admin/team/settings#sec-moderation');
      await page.screenshot({ path: path.join(shots, `${K}-02-reloaded.png`), fullPage: true });
      await page.locator('.field:has(#s-banned)').screenshot({ path: path.join(shots, `${K}-02b-banned-field.png`) });
      await page.locator('.field:has(#s-header_filters)').screenshot({ path: path.join(shots, `${K}-02c-rules-field.png`) });
      const b = await page.inputValue('#s-banned');
      const r = await page.inputValue('#s-header_filters');
      const x = await page.inputValue('#s-autorespond_admin_text');
      report(b === cfg.banned.trim(), 'banned: the patterns come back one a line', JSON.stringify(b));
      report(r === cfg.rules.trim(), 'header_filters: the rules come back one a line', JSON.stringify(r));
      report(x === cfg.text, 'the auto-response text comes back with its lines', JSON.stringify(x));
      const rows = await page.getAttribute('#s-autorespond_admin_text', 'rows');
      report(Number(rows) === cfg.text.split('\n').length + 1, 'the textarea is sized to the text', rows);
    });

    await step('a bad pattern is shown at its field', async () => {
      await page.fill('#s-banned', 'fine@x.example\nnot-an-address');
      await page.click('#sec-moderation button[type=submit]');
      await page.waitForSelector('.field-error');
      const err = await page.textContent('#sec-moderation .field.invalid');
      const b = await page.inputValue('#s-banned');
      await page.screenshot({ path: path.join(shots, `${K}-03-bad-pattern.png`), fullPage: true });
      report(err.includes("banned: 'not-an-address'") && b.replace(/\r/g, '') === 'fine@x.example\nnot-an-address',
        'a bad pattern: the error names the key, the typed lines are kept', err + ' ' + JSON.stringify(b));
    });
    await ctx.close();
  } finally {
    await browser.close();
  }
})().catch(e => { report(false, 'browser run', e.stack || e); process.exit(1); });
