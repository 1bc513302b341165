// browser_import.js - the archive import and export pages of kairan's web
// interface in headless Chromium (playwright-core, /usr/bin/chromium):
// from the settings page to the import page, an upload that fails (the
// error names the line), one that works, the posts in the archive page,
// the mbox download and the members CSV download saved to files.  Called
// by tests/e2e/test_web_import_browser.py with a JSON config file; prints
// one JSON line per check, as browser.js does.
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
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const U = cfg.url;
    const L = cfg.list;

    await step('log in as the owner', async () => {
      await page.goto(U + '/login');
      await page.fill('input[name=address]', cfg.owner);
      await page.fill('input[name=password]', cfg.password);
      await page.click('form.box button[type=submit]');
      await page.waitForURL(U + '/admin');
      report(true, 'log in as the owner');
    });

    await step('the settings page leads to the import page', async () => {
      await page.goto(U + `/admin/${L}/settings`);
      await page.click('text=Archive import and export');
      await page.waitForSelector('#import-form');
      await page.screenshot({ path: path.join(shots, 'import-01-page.png'), fullPage: true });
      report(page.url().endsWith(`/admin/${L}/import`), 'the settings page leads to the import page', page.url());
    });

    await step('a bad mbox: the error names the line, nothing is added', async () => {
      await page.setInputFiles('#import-file', cfg.badMbox);
      await page.click('#import-form button[type=submit]');
      await page.waitForSelector('#import-error');
      await page.screenshot({ path: path.join(shots, 'import-02-error.png'), fullPage: true });
      const t = await page.textContent('#import-error');
      report(t.includes(`bad.mbox:${cfg.badLine}`) && t.includes('Nothing was imported'),
        'a bad mbox: the error names the line, nothing is added', t);
    });

    await step('a good mbox is added', async () => {
      await page.setInputFiles('#import-file', cfg.goodMbox);
      await page.click('#import-form button[type=submit]');
      await page.waitForSelector('#import-notice');
      await page.screenshot({ path: path.join(shots, 'import-03-done.png'), fullPage: true });
      const t = await page.textContent('#import-notice');
      report(t.includes('3 post(s) added to the archive as numbers 2 to 4'), 'a good mbox is added', t);
    });

    await step('the uploaded posts are in the archive page', async () => {
      await page.goto(U + `/list/${L}/archive`);
      await page.screenshot({ path: path.join(shots, 'import-04-archive.png'), fullPage: true });
      const t = await page.textContent('main');
      report(['Oldest post', 'Middle post', 'Newest post'].every(s => t.includes(s)), 'the uploaded posts are in the archive page', t);
    });

    await step('download the archive as mbox', async () => {
      await page.goto(U + `/admin/${L}/import`);
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#archive-mbox')]);
      await dl.saveAs(cfg.mboxOut);
      report(dl.suggestedFilename() === `${L}.mbox` && fs.statSync(cfg.mboxOut).size > 0, 'download the archive as mbox',
        dl.suggestedFilename());
    });

    await step('download the members as CSV', async () => {
      await page.goto(U + `/admin/${L}/members`);
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#members-csv')]);
      await dl.saveAs(cfg.csvOut);
      report(dl.suggestedFilename() === `${L}-members.csv`, 'download the members as CSV', dl.suggestedFilename());
    });

    await step('the import page in Japanese', async () => {
      await page.goto(U + `/admin/${L}/import?lang=ja`);
      await page.screenshot({ path: path.join(shots, 'import-05-ja.png'), fullPage: true });
      const t = await page.textContent('main');
      report(t.includes('mbox ファイルから投稿を追加') && t.includes('アーカイブのダウンロード'), 'the import page in Japanese', t);
    });
  } finally {
    await browser.close();
  }
})().catch(e => { report(false, 'browser run', e.stack || e); process.exit(1); });
