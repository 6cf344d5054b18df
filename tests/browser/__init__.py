"""Browser tests of the workbench: headless Debian Chromium driven by Playwright."""
