// The /lab page: polls /lab/api/state, draws the encoders, their cards,
// the attempts and each line's traffic, and sends the desk actions.
'use strict'

const pollEvery = 300 // ms
let shown = -1 // the state version on the page

const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props)
  e.append(...kids)
  return e
}

function say (text, isError) {
  const s = document.getElementById('status')
  s.textContent = text
  s.style.color = isError ? '#ff9c9c' : '#ffd27a'
}

async function post (path, body) {
  const resp = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body || {})
  })
  const out = await resp.json().catch(() => ({}))
  if (!resp.ok) throw new Error(out.error || `${path}: ${resp.status}`)
  return out
}

function fill (select, values) {
  if (select.options.length) return
  for (const v of values) select.append(el('option', { value: v, textContent: v }))
}

// act runs a desk action from an encoder's buttons.
async function act (name, action, form) {
  const base = `/lab/api/encoders/${encodeURIComponent(name)}/`
  const card = { kind: form.kind.value, tech: form.tech.value }
  try {
    switch (action) {
      case 'place': case 'stack': case 'swap': {
        const out = await post(base + action, card)
        say(`${name}: ${action} ${out.card.name} (${out.card.kind}, ${out.card.uid})`)
        break
      }
      case 'remove': await post(base + 'remove', {}); say(`${name}: card removed`); break
      case 'unplug': await post(base + 'unplug', {}); say(`${name}: unplugged`); break
      case 'behave':
        await post(base + 'behave', { behaviour: form.behaviour.value, count: 1 })
        say(`${name}: ${form.behaviour.value} queued`)
        break
      case 'encode': {
        const out = await post(base + 'encode', {})
        say(`${name}: encoding, action attempt ${out.action_attempt_id}`)
        break
      }
    }
  } catch (err) {
    say(`${name}: ${err.message}`, true)
  }
  poll()
}

function encoderCard (st, e) {
  let art = document.getElementById('enc-' + e.name)
  if (!art) {
    art = document.getElementById('encoder-card').content.firstElementChild.cloneNode(true)
    art.id = 'enc-' + e.name
    art.dataset.encoder = e.name
    const form = art.querySelector('form')
    fill(form.kind, st.kinds)
    fill(form.tech, st.techs)
    fill(form.behaviour, st.behaviours)
    for (const b of art.querySelectorAll('button[data-action]')) {
      b.addEventListener('click', () => act(e.name, b.dataset.action, form))
    }
    document.getElementById('encoders').append(art)
  }
  art.querySelector('.name').textContent = e.name
  const mode = e.mode === 'scenario' ? `plays ${e.scenario}${e.timeline ? ' (' + e.timeline + ')' : ''}`
    : e.mode === 'unavailable' ? `not started: ${e.unavailable}` : e.mode
  art.querySelector('.mode').textContent = mode
  const plugged = art.querySelector('.plugged')
  plugged.textContent = e.plugged ? 'plugged in' : 'unplugged'
  plugged.classList.toggle('unplugged', !e.plugged)
  art.querySelector('.meta').textContent = `${e.driver} · ${e.acs_system} · ${e.acs_encoder_id}${e.tty ? ' · ' + e.tty : ''}`
  art.querySelector('.reader h3').textContent = e.mode === 'scenario' ? "The scenario's cards" : 'On the reader'
  const cards = art.querySelector('.cards')
  cards.replaceChildren(...(e.cards.length
    ? e.cards.map(c => el('li', {
      className: 'kind-' + c.kind,
      textContent: `${c.name}: ${c.kind} ${c.tech} ${c.uid}${c.card_id ? ' id ' + c.card_id : ''}${c.writes ? ' · written ' + c.writes + '×' : ''}`
    }))
    : [el('li', { className: 'empty', textContent: 'no card' })]))
  const queued = e.queued || []
  art.querySelector('.queued').textContent = queued.length ? 'queued: ' + queued.join(', ') : ''
  const desk = e.mode === 'desk' && e.plugged
  for (const b of art.querySelectorAll('form button, form select')) b.disabled = !desk
  art.querySelector('form.desk').hidden = e.mode !== 'desk'
  art.querySelector('button[data-action=encode]').disabled = e.mode === 'real'
  const t = e.traffic
  art.querySelector('.counts').textContent = `${t.bytes_in} B in, ${t.bytes_out} B out, ${t.frames} frames`
  const events = art.querySelector('.events')
  events.replaceChildren(...t.events.map(ev => {
    const dir = ev.dir === 'host>device' ? 'h2d' : 'd2h'
    const arrow = dir === 'h2d' ? '→' : '←'
    const what = ev.note ? `[${ev.note}]` : (ev.frames && ev.frames.length ? ev.frames.join(' · ') : ev.hex)
    return el('li', { className: ev.note ? 'note' : dir, title: ev.hex, textContent: `${ev.at} ${arrow} ${what}` })
  }))
  events.scrollTop = events.scrollHeight
}

function attemptRow (a) {
  const outcome = a.status === 'success'
    ? `card ${a.card_number || ''}`
    : (a.error_type ? `${a.error_type}${a.error_message ? ': ' + a.error_message : ''}` : '')
  const tr = el('tr', { id: 'att-' + a.action_attempt_id },
    el('td', { textContent: new Date(a.created_at).toLocaleTimeString() }),
    el('td', { textContent: a.encoder }),
    el('td', { className: `status status-${a.status}`, textContent: a.status }),
    el('td', { className: 'outcome', textContent: outcome }),
    el('td', { className: 'id', textContent: a.action_attempt_id.slice(0, 8) }))
  tr.dataset.status = a.status
  tr.dataset.encoder = a.encoder
  return tr
}

function render (st) {
  document.getElementById('summary').textContent =
    `API ${st.api_url} · time scale ${st.scale} · attempt deadline ${st.attempt_deadline}`
  for (const e of st.encoders) encoderCard(st, e)
  const attempts = st.attempts || []
  document.querySelector('#attempts tbody').replaceChildren(...attempts.map(attemptRow))
  document.getElementById('no-attempts').hidden = attempts.length > 0
  document.body.dataset.version = st.version
}

let polling = false
async function poll () {
  if (polling) return
  polling = true
  try {
    const resp = await fetch('/lab/api/state', { cache: 'no-store' })
    const st = await resp.json()
    if (st.version !== shown) {
      render(st)
      shown = st.version
    }
  } catch (err) {
    say('the lab is not answering: ' + err.message, true)
  } finally {
    polling = false
  }
}

window.addEventListener('error', ev => say('page error: ' + ev.message, true))
poll()
setInterval(poll, pollEvery)
