// admin.js: the admin view (admin.html): live figures polled from /api/admin/ every second,
// with small charts of the last two minutes, the rooms and busiest rooms, connections,
// recent errors and audit entries; closing a room and disconnecting a user, each after a
// confirmation. Signed-in admins only: the server answers everyone else 403.
const STORAGE_KEY = 'chorus.session';
const POLL_MS = 1000;
const HISTORY = 120; // chart points: two minutes at one a second

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const token = (() => {
    try {
        return JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null')?.token || null;
    } catch {
        return null;
    }
})();

async function call(method, path)
{
    const res = await fetch(path, {method, headers : {Authorization : `Bearer ${token}`}});
    const body = await res.json().catch(() => ({}));
    if (!res.ok)
        throw Object.assign(new Error(body.error?.message || res.statusText),
                            {status : res.status});
    return body;
}

function cell(text)
{
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    return td;
}

function button(label, testid, onClick)
{
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.className = 'btn btn-sm btn-ghost';
    b.type = 'button';
    b.textContent = label;
    b.dataset.testid = testid;
    b.addEventListener('click', onClick);
    td.append(b);
    return td;
}

function fill(tableId, rows, toCells)
{
    const body = $(tableId).tBodies[0];
    body.replaceChildren(...rows.map((r) => {
        const tr = document.createElement('tr');
        tr.append(...toCells(r));
        return tr;
    }));
}

const when = (ms) => new Date(ms).toLocaleTimeString();
const series = {
    connections : [],
    messages : []
};

function chart(id, values)
{
    const max = Math.max(1, ...values);
    const step = 120 / Math.max(1, HISTORY - 1);
    const pts =
        values.map((v, i) => `${(i * step).toFixed(1)},${(31 - (v / max) * 30).toFixed(1)}`);
    $(id).querySelector('polyline').setAttribute('points', pts.join(' '));
}

function push(name, v)
{
    series[name].push(v);
    if (series[name].length > HISTORY) series[name].shift();
}

function confirmThen(text, action)
{
    const d = $('admin-dialog');
    $('admin-dialog-text').textContent = text;
    const done = (ok) => {
        d.close();
        $('admin-dialog-confirm').onclick = null;
        $('admin-dialog-cancel').onclick = null;
        if (ok) action().then(refresh, (e) => alertError(e));
    };
    $('admin-dialog-confirm').onclick = () => done(true);
    $('admin-dialog-cancel').onclick = () => done(false);
    d.showModal();
}

function alertError(e)
{
    $('admin-updated').textContent = `Error: ${e.message}`;
}

async function refresh()
{
    const [o, rooms, busiest, conns, errors, audit] = await Promise.all([
        call('GET', '/api/admin/overview'),
        call('GET', '/api/admin/rooms'),
        call('GET', '/api/admin/rooms/busiest'),
        call('GET', '/api/admin/connections'),
        call('GET', '/api/admin/errors?limit=20'),
        call('GET', '/api/admin/audit?limit=20'),
    ]);
    $('admin-connections').textContent = o.connections.total;
    $('admin-rooms').textContent = o.rooms.count;
    $('admin-online').textContent = o.rooms.online;
    $('admin-messages').textContent = o.rooms.messagesPerMinute;
    $('admin-ops').textContent = o.rooms.opsPerMinute;
    push('connections', o.connections.total);
    push('messages', o.rooms.messagesPerMinute);
    chart('chart-connections', series.connections);
    chart('chart-messages', series.messages);
    fill('busiest-table', busiest.rooms,
         (r) => [cell(r.name), cell(r.roomCode), cell(r.online), cell(r.messagesPerMinute),
                 cell(r.opsPerMinute)]);
    fill(
        'rooms-table', rooms.rooms,
        (r) => [cell(r.name), cell(r.roomCode), cell(`${r.participants}/${r.capacity}`),
                cell(r.online), cell(r.messagesPerMinute), cell(r.opsPerMinute),
                button('Close', `close-${r.roomCode}`,
                       () => confirmThen(
                           `Close the room ${r.name} (${
                               r.roomCode})? Everyone in it is told and it is deleted.`,
                           () => call('POST',
                                      `/api/admin/rooms/${encodeURIComponent(r.id)}/close`)))]);
    fill('connections-table', conns.list,
         (c) => [cell(c.kind), cell(c.userId ?? '-'), cell(c.ip), cell(c.rooms),
                 c.userId ? button('Disconnect', 'disconnect-user',
                                   () => confirmThen(
                                       `Disconnect every connection of ${c.userId}?`,
                                       () => call('POST', `/api/admin/users/${
                                                              encodeURIComponent(
                                                                  c.userId)}/disconnect`)))
                          : cell('')]);
    fill('errors-table', errors.errors,
         (e) => [cell(when(e.at)), cell(e.level), cell(e.message)]);
    fill('audit-table', audit.entries,
         (a) => [cell(when(a.at)), cell(a.event), cell(a.userId), cell(a.ip), cell(a.detail)]);
    $('admin-updated').textContent = `Updated ${when(o.at)} (every second).`;
}

function refuse(text)
{
    $('admin-view').hidden = true;
    $('admin-refused').hidden = false;
    $('admin-refused-text').textContent = text;
}

async function start()
{
    if (!token) return refuse('Sign in to Chorus first, as an admin user.');
    // /api/admin/access answers any signed-in user, so a refusal logs no 403.
    const access = await call('GET', '/api/admin/access').catch(() => null);
    if (!access?.admin) return refuse('This page is for admin users; your account is not one.');
    $('admin-view').hidden = false;
    await refresh().catch(alertError);
    setInterval(() => refresh().catch(alertError), POLL_MS);
}

start();
