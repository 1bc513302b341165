// options.js - a member's own options page (/list/LIST/options) in
// headless Chromium with playwright-core: log in with the POP3 password,
// turn nodupes and hide_address on, receive_own_posts off, set a vacation
// date, save, and see the page come back with them.  Called by
// tests/e2e/test_member_options_browser.py with a JSON config; prints one
// JSON line per check and saves a screenshot of each step.
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
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1000, height: 900 } });
    const page = await ctx.newPage();
    const U = cfg.url;

    await step('a member logs in with the POP3 password', async () => {
      await page.goto(U + '/login');
      await page.fill('input[name=address]', cfg.member);
      await page.fill('input[name=password]', cfg.password);
      await page.click('form.box button[type=submit]');
      await page.waitForURL(U + `/list/${cfg.list}/archive`);
      report(true, 'a member logs in with the POP3 password');
    });
    await step('the options page shows the defaults', async () => {
      await page.goto(U + `/list/${cfg.list}/options`);
      const own = await page.isChecked('input[name=receive_own_posts]');
      const nod = await page.isChecked('input[name=nodupes]');
      const vac = await page.inputValue('input[name=vacation]');
      await page.screenshot({ path: path.join(shots, 'options-01-defaults.png'), fullPage: true });
      report(own && !nod && vac === '', 'the options page shows the defaults (own posts on, nodupes off, no vacation)',
             JSON.stringify({ own, nod, vac }));
    });
    await step('options changed and saved', async () => {
      await page.uncheck('input[name=receive_own_posts]');
      await page.check('input[name=nodupes]');
      await page.check('input[name=hide_address]');
      await page.fill('input[name=vacation]', cfg.vacation);
      await Promise.all([page.waitForNavigation(), page.click('#options button[type=submit]')]);
      const notice = await page.textContent('.alert.ok').catch(() => '');
      await page.screenshot({ path: path.join(shots, 'options-02-saved.png'), fullPage: true });
      report(notice && notice.length > 0, 'saving says so', notice);
    });
    await step('the page comes back with the new options', async () => {
      await page.goto(U + `/list/${cfg.list}/options`);
      const own = await page.isChecked('input[name=receive_own_posts]');
      const nod = await page.isChecked('input[name=nodupes]');
      const hide = await page.isChecked('input[name=hide_address]');
      const vac = await page.inputValue('input[name=vacation]');
      report(!own && nod && hide && vac === cfg.vacation, 'the page comes back with the new options',
             JSON.stringify({ own, nod, hide, vac }));
    });
    await step('clearing the vacation date ends the pause', async () => {
      await page.fill('input[name=vacation]', '');
      await Promise.all([page.waitForNavigation(), page.click('#options button[type=submit]')]);
      await page.goto(U + `/list/${cfg.list}/options`);
      const vac = await page.inputValue('input[name=vacation]');
      await page.screenshot({ path: path.join(shots, 'options-03-no-vacation.png'), fullPage: true });
      report(vac === '', 'clearing the vacation date ends the pause', vac);
    });
  } finally {
    await browser.close();
  }
})().catch(e => { report(false, 'browser run', e.stack || e); process.exit(1); });
