// Drives Debian's Chromium with playwright-core for tests/console_sso.rs.
//
//   node browse.cjs login <profile-dir> <console-url> <subject> <screenshot>
//     opens the console, expects the identity provider's authorization form
//     (oidc-provider-mock), signs in as <subject> and follows the redirects.
//   node browse.cjs open <profile-dir> <url> <screenshot>
//
// Cookies persist in <profile-dir> between runs. Prints one JSON line:
// {"status", "url", "text", "authorize"} (authorize: the query of the
// authorization request, for login).
'use strict';
const { chromium } = require('playwright-core');

async function main() {
  const [command, profile, url, ...rest] = process.argv.slice(2);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 800 },
  });
  context.setDefaultTimeout(15000);
  const page = context.pages()[0] || (await context.newPage());
  let status = null;
  page.on('response', (response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()
        && !(response.status() >= 300 && response.status() < 400)) {
      status = response.status();
    }
  });
  const result = {};
  let screenshot;
  if (command === 'login') {
    const [subject, shot] = rest;
    screenshot = shot;
    let authorize = null;
    page.on('request', (request) => {
      if (request.url().includes('/oauth2/authorize') && request.method() === 'GET') {
        authorize = Object.fromEntries(new URL(request.url()).searchParams);
      }
    });
    await page.goto(url);
    await page.waitForSelector('input[name=sub]');
    result.authorize = authorize;
    await page.fill('input[name=sub]', subject);
    await Promise.all([
      page.waitForURL((u) => !u.toString().includes('/oauth2/authorize')),
      page.click('button[type=submit]:has-text("Authorize")'),
    ]);
    await page.waitForLoadState('load');
  } else if (command === 'open') {
    [screenshot] = rest;
    await page.goto(url);
  } else {
    throw new Error(`unknown command ${command}`);
  }
  result.status = status;
  result.url = page.url();
  result.text = await page.innerText('body');
  await page.screenshot({ path: screenshot, fullPage: true });
  await context.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
