// site.js - the site admin's and the owners' pages (issue #15) in headless
// Chromium, through playwright-core: the login by address alone (an owner
// of two lists sees both), the settings page in sections with a Save each,
// the empty held-posts page without buttons, and the site admin creating
// two lists and removing one through the confirmation step.  Called by
// tests/e2e/test_web_site_browser.py once for each front end (cfg.url is
// the base: http://HOST:PORT for kairan web, .../cgi-bin/kairan.cgi for the
// CGI); prints one JSON line per check like browser.js and saves
// screenshots in cfg.screenshots.
'use strict';
const fs = require('fs');
const path = require('path');
const H = require('./harness');

const cfg = H.config();
const shots = cfg.screenshots;
const K = cfg.kind;

const report = H.reporter(K);

const step = H.stepper(report);

async function login(page, address, password) {
  await page.goto(cfg.url + '/login');
  await page.fill('input[name=address]', address);
  await page.fill('input[name=password]', password);
  await page.click('form.box button[type=submit]');
}

(async () => {
  const browser = await H.launch(cfg);
  const U = cfg.url;
  try {
    const owner = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } });
    const page = await owner.newPage();

    await step('the owner logs in with address and password only and sees both lists', async () => {
      await page.goto(U + '/login');
      const selects = await page.locator('select').count();
      await page.screenshot({ path: path.join(shots, `${K}-01-login.png`) });
      await login(page, cfg.owner, cfg.password);
      await page.waitForURL(U + '/admin');
      await page.screenshot({ path: path.join(shots, `${K}-02-owner-overview.png`), fullPage: true });
      const t = await page.textContent('main');
      report(selects === 0 && t.includes('team') && t.includes('dev') && !t.includes('third'),
        'the owner logs in with address and password only and sees both lists', `selects=${selects} ` + t);
    });

    await step('settings in sections, one Save each', async () => {
      await page.goto(U + '/admin/team/settings');
      const heads = await page.locator('section.settings-section h2').allTextContents();
      const saves = await page.locator('form.settings button[type=submit]').count();
      await page.screenshot({ path: path.join(shots, `${K}-03-settings.png`), fullPage: true });
      report(JSON.stringify(heads) === JSON.stringify(cfg.sections) && saves === heads.length,
        'the settings page shows the sections in order, one Save each', JSON.stringify(heads) + ' saves=' + saves);
      const title = await page.textContent('label[for=s-post_policy]');
      report(title.includes('Who may post'), 'a key has its human title', title);
      // change a Limits value (badly first), and a Posting value left unsaved in its own form
      await page.selectOption('#s-post_policy', 'anyone');
      await page.fill('#s-max_size', 'lots');
      await page.click('#sec-limits button[type=submit]');
      await page.waitForSelector('.field-error');
      const err = await page.textContent('#sec-limits .field.invalid');
      report(err.includes('not a number'), 'an invalid value shows its error at the field, in its section', err);
      await page.fill('#s-max_size', '300000');
      await page.click('#sec-limits button[type=submit]');
      await page.waitForSelector('.alert.ok');
      await page.screenshot({ path: path.join(shots, `${K}-04-settings-saved.png`) });
      const ok = await page.textContent('.alert.ok');
      const sel = await page.inputValue('#s-post_policy');
      report(ok.includes('Settings saved') && sel === 'members',
        'Save of one section stores that section only (the other form\'s change is not sent)', ok + ' post_policy=' + sel);
      await page.selectOption('#s-digest_format', 'plain');
      await page.click('#sec-digest button[type=submit]');
      await page.waitForSelector('.alert.ok');
      const saved = await page.locator('section.saved h2').textContent();
      report(saved === 'Digest', 'the section just saved is marked', saved);
    });

    await step('an empty held-posts page has no buttons', async () => {
      await page.goto(U + '/admin/team/held');
      const buttons = await page.locator('main button').count();
      const t = await page.textContent('main');
      await page.screenshot({ path: path.join(shots, `${K}-05-held-empty.png`) });
      report(buttons === 0 && t.includes('No posts are waiting'), 'an empty held-posts page has no buttons', `buttons=${buttons}`);
    });

    await step('an owner has no site administration', async () => {
      const links = await page.locator('a[href$="/admin/site"]').count();
      const r = await page.goto(U + '/admin/site');
      report(links === 0 && r.status() === 403, 'an owner has no site administration', `links=${links} status=${r.status()}`);
    });
    await owner.close();

    const admin = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } });
    const a = await admin.newPage();
    await step('the site admin logs in and opens the site page', async () => {
      await login(a, 'root@example.org', cfg.adminPassword);
      await a.waitForURL(U + '/admin');
      await a.click('main a[href$="/admin/site"]');
      await a.waitForSelector('#create-list');
      const rows = await a.locator('table.site-lists tbody tr').evaluateAll(trs => trs.map(tr => tr.dataset.list));
      const domains = await a.locator('main a[href$="/admin/domains"]').count();
      await a.screenshot({ path: path.join(shots, `${K}-06-site.png`), fullPage: true });
      report(JSON.stringify(rows) === JSON.stringify(cfg.lists) && domains === 1,
        'the site page lists every list and links to the domains page', JSON.stringify(rows));
    });

    for (const name of ['browser-made', 'browser-gone']) {
      await step(`create ${name}`, async () => {
        await a.fill('#new-name', name);
        await a.fill('#new-owner', `owner-${name}@example.org`);
        await a.fill('#new-description', `Made by ${K} in Chromium`);
        await a.fill('#new-password', 'made-pass-1');
        await a.fill('#new-password2', 'made-pass-1');
        await a.click('#create-submit');
        await a.waitForSelector('.alert.ok');
        const t = await a.textContent('.alert.ok');
        const row = await a.locator(`tr[data-list="${name}"]`).count();
        const lines = await a.textContent('pre.aliases');
        report(t.includes('List created') && row === 1 && lines.includes(`deliver --ctl ${name}`),
          `create ${name}: notice, new row, its alias lines`, t + lines);
      });
    }
    await a.screenshot({ path: path.join(shots, `${K}-07-site-created.png`), fullPage: true });

    await step('a bad name is refused in the form', async () => {
      await a.fill('#new-name', 'team');
      await a.fill('#new-owner', 'x@example.org');
      await a.click('#create-submit');
      await a.waitForSelector('.alert.error');
      const t = await a.textContent('.alert.error');
      report(t.includes('exists already'), 'an existing name is refused with a message', t);
    });

    await step('remove browser-gone through the confirmation step', async () => {
      await a.goto(U + '/admin/site');
      await a.click('tr[data-list="browser-gone"] a.danger');
      await a.waitForSelector('#remove-list');
      await a.screenshot({ path: path.join(shots, `${K}-08-remove-confirm.png`) });
      await a.fill('#remove-confirm', 'browser-made');
      await a.click('#remove-submit');
      await a.waitForSelector('.alert.error');
      const e = await a.textContent('.alert.error');
      report(e.includes('Type the name') && (await a.locator('#remove-list').count()) === 1,
        'a wrong name typed asks again', e);
      await a.fill('#remove-confirm', 'browser-gone');
      await a.click('#remove-submit');
      await a.waitForSelector('.alert.ok');
      await a.screenshot({ path: path.join(shots, `${K}-09-removed.png`), fullPage: true });
      const t = await a.textContent('main');
      const row = await a.locator('tr[data-list="browser-gone"]').count();
      report(t.includes('List removed') && row === 0 && t.includes('removed/'), 'remove browser-gone through the confirmation step', t);
    });

    await step('the site page fits a phone', async () => {
      const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 2, locale: 'ja-JP' });
      await phone.addCookies((await admin.cookies()).map(c => ({ ...c })));
      const p = await phone.newPage();
      await p.goto(U + '/admin/site?lang=ja');
      await p.screenshot({ path: path.join(shots, `${K}-10-site-phone-ja.png`), fullPage: true });
      const w = await p.evaluate(() => document.documentElement.scrollWidth);
      const h = await p.textContent('h1');
      report(w <= 380 && h.includes('サイト管理'), 'the site page fits a phone screen, in Japanese', `scrollWidth ${w} ${h}`);
      await phone.close();
    });
    await admin.close();
  } finally {
    await browser.close();
  }
})().catch(e => { report(false, 'browser run', e.stack || e); process.exit(1); });
