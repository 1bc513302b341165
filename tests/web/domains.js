// domains.js - the site admin's /admin/domains page in headless Chromium
// (playwright-core, the Debian chromium): log in as the instance admin,
// follow the overview's link, add a domain with a web URL, try to remove a
// domain that has lists, remove the new one through the confirmation step
// (first without ticking the box).  Called by tests/e2e/test_domains_browser.py
// with a JSON config file; prints one JSON line per check, like browser.js.
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

    await step('log in as the instance admin and open Mail domains', async () => {
      await page.goto(U + '/login');
      await page.fill('input[name=address]', cfg.admin);
      await page.fill('input[name=password]', cfg.password);
      await page.click('form.box button[type=submit]');
      await page.waitForURL(U + '/admin');
      await page.click('#domains-link');
      await page.waitForURL(U + '/admin/domains');
      const rows = await page.$$eval('#domains tbody tr', trs => trs.map(tr => tr.innerText));
      await page.screenshot({ path: path.join(shots, 'domains-01-list.png'), fullPage: true });
      report(rows.length === 2 && rows[0].includes(cfg.defaultDomain) && rows[0].includes('default') &&
             rows[1].includes('a.example'), 'the domains page lists the default domain and a.example', rows.join(' | '));
    });

    await step('add a domain with a web URL', async () => {
      await page.fill('#d-name', 'new.example');
      await page.fill('#d-url', 'https://lists.new.example/');
      await page.click('#add-domain button[type=submit]');
      await page.waitForSelector('#notice');
      const rows = await page.$$eval('#domains tbody tr', trs => trs.map(tr => tr.innerText));
      await page.screenshot({ path: path.join(shots, 'domains-02-added.png'), fullPage: true });
      report(rows.some(r => r.includes('new.example') && r.includes('https://lists.new.example/')),
             'the new domain is listed with its web URL', rows.join(' | '));
    });

    await step('a domain with lists has no Remove button', async () => {
      const row = await page.$('#domains tbody tr:has-text("a.example")');
      const btn = row ? await row.$('button') : null;
      report(row && !btn, 'a.example (one list) offers no Remove button');
    });

    await step('remove the new domain: the confirmation step', async () => {
      await page.click('#domains tbody tr:has-text("new.example") button');
      await page.waitForSelector('#confirm-remove');
      await page.screenshot({ path: path.join(shots, 'domains-03-confirm.png'), fullPage: true });
      const t = await page.textContent('#confirm-remove');
      report(t.includes('new.example'), 'Remove shows a confirmation naming the domain', t);
      await page.click('#confirm-remove button[type=submit]');
      await page.waitForSelector('#error');
      const rows1 = await page.$$eval('#domains tbody tr', trs => trs.map(tr => tr.innerText));
      report(rows1.some(r => r.includes('new.example')) && await page.$('#confirm-remove'),
             'without the tick nothing is removed and the confirmation stays', rows1.join(' | '));
      await page.check('#confirm-remove input[name=confirm]');
      await page.click('#confirm-remove button[type=submit]');
      await page.waitForSelector('#notice');
      await page.screenshot({ path: path.join(shots, 'domains-04-removed.png'), fullPage: true });
      const rows2 = await page.$$eval('#domains tbody tr', trs => trs.map(tr => tr.innerText));
      report(!rows2.some(r => r.includes('new.example')), 'with the tick the domain is removed', rows2.join(' | '));
    });
  } finally {
    await browser.close();
  }
})().catch(e => { report(false, 'browser run', e.stack || e); process.exit(1); });
