// A Switchboard webhook receiver in Node: node:http, and the Standard Webhooks
// library that checks the signature (docs/integrations.md).
//
//   npm install                     # in examples/: standardwebhooks, once
//   WEBHOOK_SECRET=whsec_... node webhook-receiver.mjs      # PORT (default 8000), HOST (default 127.0.0.1)
//
// Every verified event is printed as one JSON line; an agent's reply is where
// a WhatsApp gateway would send it on to the customer's phone.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set(); // webhook-ids already handled: a retry repeats one (keep them in your database)

function handle(id, { type, data }) {
  const line = { id, type, session: data.session.id };
  if (type === 'message.created' && ['agent', 'admin'].includes(data.message.sender.role)) {
    // The agent answered: send data.message.content to the customer's phone here.
    line.reply = { to: data.session.customer.id, text: data.message.content };
  }
  console.log(JSON.stringify(line));
}

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString('utf8'); // the raw body: never re-serialise before verifying
  let event;
  try {
    event = webhook.verify(body, req.headers);
  } catch (err) {
    console.log(JSON.stringify({ rejected: err.message }));
    res.writeHead(400).end();
    return;
  }
  const id = req.headers['webhook-id'];
  if (!seen.has(id)) {
    seen.add(id);
    handle(id, event);
  }
  res.writeHead(204).end(); // any 2xx within 10 s: delivered
});

server.listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});
