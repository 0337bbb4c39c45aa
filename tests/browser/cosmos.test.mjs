// cosmos.test.mjs: the room's Cosmos tab (three.js over room.entities) with two people
// against the real server: A makes an entry through the form; B's scene gains the sphere
// (checked in the page's scene state, window.__cosmos, not in pixels), watches it grow
// chunk by chunk, and it ends at the same final position as in A's scene, in A's color;
// A's pointer shows as a named marker in B's scene; hovering the sphere shows its author;
// a reload shows the stored entry in place. Screenshots go to CHORUS_ARTIFACTS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, CODE_RE, signUp, until, untilText } from './lib/env.mjs';

const TEXT = 'a quiet morning by the sea';

/** The page's logical scene: entries [{id, pos, target, scale, color, owner, text, stage, final}]. */
const entries = (page) => page.evaluate(() => window.__cosmos?.entities() ?? null);
const cursors = (page) => page.evaluate(() => window.__cosmos?.cursors() ?? null);

async function openCosmos(page) {
  await page.getByTestId('tab-cosmos').click();
  await page.getByTestId('cosmos-panel').waitFor();
  await until(() => page.evaluate(() => window.__cosmos?.ready === true), { message: 'the cosmos is ready' });
}

/** An entry that has arrived at its final place (the glide is over). */
const settled = (e) => e && e.final && e.pos.every((v, k) => v === e.target[k]);

describe('web app: the shared cosmos', () => {
  let env;
  let A;
  let B;
  let id;
  let aColor;

  before(async () => {
    env = await Env.start();
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
  });

  after(async () => {
    await env?.close();
  });

  it('A creates a room, B joins it, both open the Cosmos tab', async () => {
    await A.page.goto(env.url);
    await signUp(A.page, A);
    await A.page.getByTestId('create-name').fill('Diary');
    await A.page.getByTestId('create-submit').click();
    const code = (await untilText(A.page.getByTestId('room-code'), CODE_RE)).trim();
    await B.page.goto(env.url);
    await signUp(B.page, B);
    await B.page.getByTestId('join-code').fill(code);
    await B.page.getByTestId('join-submit').click();
    await untilText(B.page.getByTestId('participant-count'), '2/');
    await untilText(A.page.getByTestId('participant-count'), '2/');

    await openCosmos(A.page);
    await openCosmos(B.page);
    assert.equal(await A.page.getByTestId('chat-panel').isVisible(), false, 'the cosmos replaces the chat');
    assert.deepEqual(await entries(A.page), []);
    assert.deepEqual(await entries(B.page), []);
    const gl = await B.page.evaluate(() => window.__cosmos.webgl);
    if (process.env.SDK_TEST_VERBOSE) console.log('cosmos: WebGL', gl);
    aColor = await B.page.locator('[data-testid="participant"]', { hasText: 'Ada' }).evaluate((n) => n.style.getPropertyValue('--c').trim());
    assert.match(aColor, /^#[0-9a-f]{6}$/i, 'A has a color');
  });

  it('A makes an entry: B sees it materialize (placeholder, growing, final) and end where A has it', async () => {
    // B's scene records every stage and size it applies (window.__cosmos.changes), so a
    // page that is slow to run gives the same record as a fast one.
    await A.page.getByTestId('cosmos-text').fill(TEXT);
    await A.page.getByTestId('cosmos-create').click();
    let seen = [];
    await until(async () => {
      seen = await B.page.evaluate(() => {
        const e = window.__cosmos?.entities()[0];
        return e && e.final ? window.__cosmos.changes(e.id) : [];
      });
      return seen.length > 0;
    }, { timeout: 15000, message: 'B sees the entry final' });
    assert.ok(seen.length >= 3, `B saw the entry change several times: ${JSON.stringify(seen)}`);
    assert.equal(seen[0].stage, 'placeholder', 'B first sees a placeholder');
    const sizes = seen.map((s) => s.size);
    for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i] >= sizes[i - 1], `it only grows: ${sizes}`);
    assert.ok(sizes.at(-1) > sizes[0], 'it grew');
    assert.equal(seen.at(-1).stage, 'final');
    assert.notDeepEqual(seen[0].pos, seen.at(-1).pos, 'it moved to its final place');

    // Both scenes: the glide over, the same numbers.
    let a;
    let b;
    await until(async () => {
      [a] = await entries(A.page);
      [b] = await entries(B.page);
      return settled(a) && settled(b);
    }, { timeout: 10000, message: 'both glides to end' });
    id = a.id;
    assert.equal(b.id, id);
    assert.equal(b.text, TEXT);
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(a.pos[k] - b.pos[k]) <= 1e-6, `same position: A ${a.pos} B ${b.pos}`);
    }
    assert.deepEqual(b.target, a.target);
    // The numbers are the entity's data.pos, as stored.
    const stored = await B.page.evaluate((eid) => window.__cosmos.entity(eid), id);
    assert.deepEqual(stored.data.pos, b.target);
    assert.equal(stored.data.final, true);
    assert.equal(stored.data.text, TEXT);
    assert.equal(stored.version, 5, 'created, three enrichment chunks, the final place');
    assert.equal(b.color.toLowerCase(), aColor.toLowerCase(), "the sphere has A's color in B's scene");
    assert.equal(a.color.toLowerCase(), aColor.toLowerCase(), "and in A's own");
    assert.equal(b.scale, 1);
    await untilText(B.page.getByTestId('cosmos-count'), '1');
    await untilText(A.page.getByTestId('cosmos-status'), 'place');
  });

  it("A's pointer over the scene shows as a marker with A's name in B's scene", async () => {
    const box = await A.page.getByTestId('cosmos-canvas').boundingBox();
    await A.page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.6);
    await A.page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.62, { steps: 4 });
    const c = await until(async () => (await cursors(B.page))?.find((x) => x.name === 'Ada' && x.visible), { message: "A's marker in B's scene" });
    assert.equal(c.color.toLowerCase(), aColor.toLowerCase());
    assert.equal(c.pos.length, 3);
    assert.ok(c.pos.every(Number.isFinite));
    await B.page.locator('[data-testid="cosmos-cursor"]', { hasText: 'Ada' }).waitFor();
  });

  it("hovering the sphere shows its author and text; screenshots", async () => {
    const p = await B.page.evaluate((eid) => window.__cosmos.screenPosition(eid), id);
    assert.ok(p, 'the entry is in front of the camera');
    await B.page.mouse.move(p.x - 3, p.y - 3);
    await B.page.mouse.move(p.x, p.y, { steps: 3 });
    const tip = B.page.getByTestId('cosmos-tooltip');
    await tip.waitFor();
    await untilText(tip, 'Ada');
    await untilText(tip, TEXT);
    assert.equal(await B.page.evaluate(() => window.__cosmos.hovered), id);

    await A.page.waitForTimeout(200); // let the frames settle for the pictures
    await env.screenshot(A, 'cosmos-ada.png');
    await env.screenshot(B, 'cosmos-bob.png');
  });

  it('the entry is stored: B reloads and finds it in place at once', async () => {
    const [before] = await entries(A.page);
    await B.page.reload();
    await B.page.getByTestId('room-view').waitFor();
    await untilText(B.page.getByTestId('participant-count'), '2/');
    await openCosmos(B.page);
    const [b] = await entries(B.page);
    assert.equal(b.id, id);
    assert.deepEqual(b.pos, before.pos, 'no glide after a reload: it starts where it is');
    env.assertNoConsoleErrors();
  });
});

describe('web app: the cosmos without WebGL, with reduced motion', () => {
  let env;
  let A;

  before(async () => {
    env = await Env.start({ browserArgs: ['--disable-webgl', '--disable-3d-apis'] });
    A = await env.newUser('Ada', { context: { reducedMotion: 'reduce' } });
  });

  after(async () => {
    await env?.close();
  });

  it('says it cannot draw, keeps the scene state, and entries jump instead of gliding', async () => {
    await A.page.goto(env.url);
    await signUp(A.page, A);
    await A.page.getByTestId('create-name').fill('Flat');
    await A.page.getByTestId('create-submit').click();
    await untilText(A.page.getByTestId('room-code'), CODE_RE);
    await openCosmos(A.page);
    assert.equal(await A.page.evaluate(() => window.__cosmos.webgl), false);
    await untilText(A.page.getByTestId('cosmos-canvas'), 'WebGL');

    // Every state A's scene goes through: with reduced motion it is always where the entity says.
    const watch = A.page.evaluate(() => new Promise((resolve) => {
      const seen = [];
      const t = setInterval(() => {
        const e = window.__cosmos?.entities()[0];
        if (!e) return;
        seen.push(e);
        if (e.final) {
          clearInterval(t);
          resolve(seen);
        }
      }, 15);
      setTimeout(() => { clearInterval(t); resolve(seen); }, 15000);
    }));
    await A.page.getByTestId('cosmos-text').fill('flat but fine');
    await A.page.getByTestId('cosmos-create').click();
    const seen = await watch;
    assert.ok(seen.length > 0 && seen.at(-1).final, 'the entry reached its final stage');
    for (const e of seen) {
      assert.deepEqual(e.pos, e.target, 'no glide: always at the stored position');
      assert.equal(e.scale, e.scaleTarget, 'no growing animation: always at its size');
    }
    const stored = await A.page.evaluate((id) => window.__cosmos.entity(id), seen.at(-1).id);
    assert.deepEqual(seen.at(-1).target, stored.data.pos);
    await untilText(A.page.getByTestId('cosmos-list-item'), 'flat but fine');
    await env.screenshot(A, 'cosmos-nowebgl.png');
    env.assertNoConsoleErrors();
  });
});
