// A terminal chat client for Switchboard (development mode).
//
//   node cli-chat.mjs customer Cleo      # opens a chat and waits for an agent
//   node cli-chat.mjs agent Ann          # takes the oldest pending chat (or the next one)
//
// Type a line and press Enter to send it; /close closes the session.
// SERVER_URL defaults to http://localhost:3001.
import readline from 'node:readline';
import { io } from 'socket.io-client';

const [role = 'customer', name = role === 'agent' ? 'Agent' : 'Customer'] = process.argv.slice(2);
const url = process.env.SERVER_URL ?? 'http://localhost:3001';
const sub = `${role}-${name.toLowerCase()}`;

async function api(path, token, body) {
  const res = await fetch(url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const { token } = await api('/api/dev/token', null, { sub, role, name });
const socket = io(url + '/chat', { auth: { token }, transports: ['websocket'] });
const out = (line) => { readline.clearLine(process.stdout, 0); readline.cursorTo(process.stdout, 0); console.log(line); rl.prompt(true); };
const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
let sessionId = null;
const seen = new Set();

function show(m) {
  if (seen.has(m.id)) return;
  seen.add(m.id);
  out(`[${m.seq}] ${m.sender.name ?? m.sender.id}: ${m.content}`);
}

async function join(id) {
  const ack = await socket.emitWithAck('join-session', { sessionId: id });
  if (!ack.ok) return out(`cannot join: ${ack.error.code} ${ack.error.message}`);
  sessionId = id;
  out(`joined session ${id} (${ack.data.session.status}, customer ${ack.data.session.customer.name})`);
  ack.data.messages.forEach(show);
}

socket.on('connect_error', (err) => out(`connect_error: ${err.message}`));
socket.on('connected', ({ user }) => out(`connected as ${user.name} (${user.role})`));
socket.on('new-message', show);
socket.on('user-typing', (t) => t.isTyping && out(`${t.user.name} is typing…`));
socket.on('session-updated', (s) => s.id === sessionId && s.agent && out(`${s.agent.name} is handling this chat`));
socket.on('session-closed', ({ session, closedBy }) => session.id === sessionId && out(`session closed by ${closedBy.name ?? closedBy.id}`));
socket.on('exception', (e) => out(`error: ${e.code} ${e.message}`));

socket.once('connected', async () => {
  if (role === 'customer') {
    const session = await api('/api/chat/sessions', token, { subject: 'Help from the terminal' });
    await join(session.id);
    out('waiting for an agent; type to write');
  } else {
    const { items } = await api('/api/chat/sessions?status=pending', token);
    if (items.length) await join(items[items.length - 1].id);
    else {
      out('no pending chat yet; waiting for one');
      socket.once('new-pending-session', (s) => join(s.id));
    }
  }
  rl.prompt();
});

rl.on('line', async (line) => {
  const text = line.trim();
  if (!text || !sessionId) return rl.prompt();
  if (text === '/close') {
    await socket.emitWithAck('close-session', { sessionId });
    return rl.prompt();
  }
  const ack = await socket.emitWithAck('send-message', { sessionId, content: text, clientMessageId: crypto.randomUUID() });
  if (!ack.ok) out(`not sent: ${ack.error.code}`);
  rl.prompt();
});
rl.on('close', () => { socket.close(); process.exit(0); });
