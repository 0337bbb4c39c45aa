// cosmos-edit.test.mjs: working with entries in the Cosmos tab, two people against the real
// server: the first-use hint of an empty cosmos, selecting an entry (a card with author and
// text, by click, so touch works too), dragging it (A holds its lock, B sees A named as the
// holder and the entry moving live, the drop is stored), editing and deleting it.
// Screenshots of each step go to CHORUS_ARTIFACTS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, roomOfTwo, until, untilText } from './lib/env.mjs';

const entries = (page) => page.evaluate(() => window.__cosmos?.entities() ?? null);
const locks = (page) => page.evaluate(() => window.__cosmos?.locks() ?? null);
const stored = (page, id) => page.evaluate((eid) => window.__cosmos.entity(eid), id);
const screenPos = (page, id) => page.evaluate((eid) => window.__cosmos.screenPosition(eid), id);
const settled = (e) => e && e.final && e.pos.every((v, k) => v === e.target[k]);

async function openCosmos(page) {
  await page.getByTestId('tab-cosmos').click();
  await until(() => page.evaluate(() => window.__cosmos?.ready === true), { message: 'the cosmos is ready' });
}

describe('web app: selecting, moving, editing and deleting cosmos entries', () => {
  let env;
  let A;
  let B;
  let id;

  before(async () => {
    env = await Env.start();
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
  });

  after(async () => {
    await env?.close();
  });

  it('an empty cosmos explains itself: how to orbit and zoom, and how to add an entry', async () => {
    await roomOfTwo(env, A, B, 'Stars');
    for (const u of [A, B]) await openCosmos(u.page);

    await A.page.getByTestId('cosmos-empty').waitFor();
    await untilText(A.page.getByTestId('cosmos-empty'), 'Write an entry');
    await untilText(A.page.getByTestId('cosmos-hint'), 'Drag to orbit');
    await untilText(A.page.getByTestId('cosmos-hint'), 'wheel or pinch to zoom');
    await env.screenshot(A, 'cosmos-empty-hint.png');

    await A.page.getByTestId('cosmos-text').fill('first light over the hills');
    await A.page.getByTestId('cosmos-create').click();
    await until(async () => {
      const [a] = await entries(A.page);
      const [b] = await entries(B.page);
      return settled(a) && settled(b);
    }, { timeout: 15000, message: 'the entry settled on both pages' });
    [{ id }] = await entries(A.page);
    await A.page.getByTestId('cosmos-empty').waitFor({ state: 'hidden' });
  });

  it('a click (or tap) on an entry selects it: a card with its author and text', async () => {
    const p = await screenPos(B.page, id);
    await B.page.mouse.click(p.x, p.y);
    const card = B.page.getByTestId('cosmos-detail');
    await card.waitFor();
    await untilText(card, 'Ada');
    await untilText(B.page.getByTestId('cosmos-detail-text'), 'first light over the hills');
    assert.equal(await B.page.evaluate(() => window.__cosmos.selected), id);
    await env.screenshot(B, 'cosmos-selected.png');
  });

  it('A drags the entry: it is locked to A, B sees who holds it and the entry moving live; the drop is stored', async () => {
    const [before] = await entries(B.page);
    const p = await screenPos(A.page, id);
    await A.page.mouse.move(p.x, p.y);
    await A.page.mouse.down();
    await A.page.mouse.move(p.x + 12, p.y + 4, { steps: 2 });
    await until(async () => (await locks(A.page))[id]?.displayName === 'Ada', { message: 'A holds the lock' });
    await A.page.mouse.move(p.x + 140, p.y + 50, { steps: 12 });

    // While A still holds it: B sees the lock, named, and the entry where A has it now.
    await until(async () => (await locks(B.page))[id]?.displayName === 'Ada', { message: 'B sees the lock' });
    await untilText(B.page.locator(`[data-testid="cosmos-lock"][data-entity-id="${id}"]`), 'Ada is moving this');
    await untilText(B.page.getByTestId('cosmos-detail-lock'), 'Ada is moving this');
    assert.equal(await B.page.getByTestId('cosmos-edit').isDisabled(), true, 'no editing what someone else holds');
    assert.equal(await B.page.getByTestId('cosmos-delete').isDisabled(), true);
    await until(async () => {
      const [b] = await entries(B.page);
      return b.pos.some((v, k) => Math.abs(v - before.pos[k]) > 0.5);
    }, { message: 'the entry moves on B during the drag' });
    const held = await stored(B.page, id);
    await env.screenshot(B, 'cosmos-drag-seen-by-bob.png');
    await env.screenshot(A, 'cosmos-drag-ada.png');

    await A.page.mouse.up();
    await until(async () => Object.keys(await locks(B.page)).length === 0, { message: 'the lock ends on B' });
    await B.page.locator('[data-testid="cosmos-lock"]').waitFor({ state: 'detached' });
    const [a] = await entries(A.page);
    await until(async () => {
      const s = await stored(B.page, id);
      return s.version > held.version && s.data.pos.every((v, k) => v === a.target[k]);
    }, { message: 'the drop is stored where A let go' });
    assert.notDeepEqual(a.target, before.target, 'it moved');
    const [b] = await entries(B.page);
    assert.deepEqual(b.target, a.target, 'B has it where A let it go');
    assert.equal(await B.page.getByTestId('cosmos-edit').isDisabled(), false, 'editable again');
  });

  it('B edits the text; A sees it', async () => {
    await B.page.getByTestId('cosmos-edit').click();
    await B.page.getByTestId('cosmos-edit-text').fill('first light over the quiet hills');
    await B.page.getByTestId('cosmos-edit-save').click();
    await untilText(B.page.getByTestId('cosmos-detail-text'), 'quiet hills');
    await until(async () => (await entries(A.page))[0]?.text === 'first light over the quiet hills', { message: 'the new text on A' });
    assert.equal((await stored(A.page, id)).data.text, 'first light over the quiet hills');
  });

  it('B deletes it after confirming; it leaves both scenes and the hint comes back', async () => {
    await B.page.getByTestId('cosmos-delete').click();
    await B.page.getByTestId('dialog').waitFor();
    await B.page.getByTestId('dialog-cancel').click();
    assert.equal((await entries(B.page)).length, 1, 'cancel keeps it');
    await B.page.getByTestId('cosmos-delete').click();
    await B.page.getByTestId('dialog-confirm').click();
    await until(async () => (await entries(A.page)).length === 0 && (await entries(B.page)).length === 0, { message: 'gone on both' });
    await B.page.getByTestId('cosmos-detail').waitFor({ state: 'hidden' });
    await A.page.getByTestId('cosmos-empty').waitFor();
  });

  it('on a touch screen two fingers pinch to zoom', async () => {
    const before = await B.page.evaluate(() => window.__cosmos.distance);
    await B.page.getByTestId('cosmos-canvas').evaluate((el) => {
      const r = el.getBoundingClientRect();
      const cx = r.left + r.width / 2;
      const cy = r.top + r.height / 2;
      const fire = (type, id, dx) => el.dispatchEvent(new PointerEvent(type, {
        pointerId: id, pointerType: 'touch', isPrimary: id === 11, button: type === 'pointermove' ? -1 : 0,
        clientX: cx + dx, clientY: cy, bubbles: true,
      }));
      fire('pointerdown', 11, -40);
      fire('pointerdown', 12, 40);
      for (let k = 1; k <= 5; k++) {
        fire('pointermove', 11, -40 - 16 * k);
        fire('pointermove', 12, 40 + 16 * k);
      }
      fire('pointerup', 11, -120);
      fire('pointerup', 12, 120);
    });
    const after = await B.page.evaluate(() => window.__cosmos.distance);
    assert.ok(after < before * 0.7, `fingers apart zoom in: ${before} -> ${after}`);
  });

  it('no console errors on any page', () => {
    env.assertNoConsoleErrors();
  });
});
