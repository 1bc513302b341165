// templates.js - the mail templates page (/admin/LIST/templates) in
// headless Chromium with playwright-core: from the settings page to the
// list of templates, edit goodbye with an unknown placeholder (refused,
// the text kept), then a good text (saved, shown as overridden).  Called
// by tests/e2e/test_templates.py with a JSON config file; prints one JSON
// line per check ({"ok": bool, "name": ..., "detail": ...}).
'use strict';
const fs = require('fs');
const path = require('path');
const H = require('./harness');

const cfg = H.config();
const shots = cfg.screenshots;

const report = H.reporter();

const step = H.stepper(report);

(async () => {
  const browser = await H.launch(cfg);
  try {
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } });
    const page = await ctx.newPage();
    const U = cfg.url;

    await step('log in and open the templates from the settings page', async () => {
      await page.goto(U + '/login');
      await page.fill('input[name=address]', cfg.owner);
      await page.fill('input[name=password]', cfg.password);
      await page.click('form.box button[type=submit]');
      await page.waitForURL(U + '/admin');
      await page.goto(U + `/admin/${cfg.list}/settings`);
      await page.click('text=Mail templates');
      await page.waitForSelector('table.templates');
      await page.screenshot({ path: path.join(shots, 'templates-01-index.png'), fullPage: true });
      const t = await page.textContent('table.templates');
      report(t.includes('goodbye') && t.includes('welcome'), 'log in and open the templates from the settings page', t);
    });

    await step('an unknown placeholder is refused in the browser', async () => {
      await page.click('table.templates a:has-text("goodbye")');
      await page.waitForSelector('#t-text');
      const shown = await page.inputValue('#t-text');
      report(shown.includes('is no longer a member'), 'the textarea holds the shipped goodbye', shown);
      await page.fill('#t-text', 'Subject: Bye {{list}}\n\nBye {{membername}}.\n');
      await page.click('button[value=save]');
      await page.waitForSelector('.alert.error');
      await page.screenshot({ path: path.join(shots, 'templates-02-refused.png'), fullPage: true });
      const err = await page.textContent('.alert.error');
      const kept = await page.inputValue('#t-text');
      report(err.includes('{{membername}}') && kept.includes('Bye {{membername}}.'),
             'an unknown placeholder is refused in the browser, the text kept', err + '\n' + kept);
    });

    await step('save a goodbye text in the browser', async () => {
      await page.fill('#t-text', 'Subject: Bye from {{list}}\n\nGoodbye from the browser, {{address}}.\n');
      await page.click('button[value=save]');
      await page.waitForSelector('.alert.ok');
      const ok = await page.textContent('.alert.ok');
      const src = await page.textContent('main');
      await page.screenshot({ path: path.join(shots, 'templates-03-saved.png'), fullPage: true });
      report(ok.includes('Template saved') && src.includes('overridden') && (await page.isVisible('button[value=reset]')),
             'save a goodbye text in the browser (now overridden, with a reset button)', ok + '\n' + src);
      await page.click('text=Mail templates');
      await page.waitForSelector('table.templates');
      const rows = await page.$$eval('tr.overridden', els => els.map(e => e.textContent).join('|'));
      report(rows.includes('goodbye'), 'the index marks goodbye as overridden', rows);
    });
  } finally {
    await browser.close();
  }
})().catch(e => { report(false, 'browser run', e.stack || e); process.exit(1); });
