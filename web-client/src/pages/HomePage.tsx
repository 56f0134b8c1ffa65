/** The demo's front door: what Switchboard is and where to click. */
export function HomePage() {
  return (
    <main className="home" id="main">
      <header className="home__hero">
        <p className="brand brand--large">
          <span className="brand__mark" aria-hidden="true" />
          Switchboard
        </p>
        <h1>Real-time support chat</h1>
        <p className="muted">
          A Socket.IO v4 chat server in Rust with this React reference client. Open the customer widget and the agent
          dashboard side by side (two windows, or a normal and a private one) and start talking.
        </p>
      </header>
      <div className="home__cards">
        <a className="card card--link" href="/widget">
          <h2 className="card__title">Customer widget →</h2>
          <p className="muted">Start a chat, wait in the queue, talk to an agent.</p>
        </a>
        <a className="card card--link" href="/dashboard">
          <h2 className="card__title">Agent dashboard →</h2>
          <p className="muted">Live numbers, the queue of waiting customers, your conversations.</p>
        </a>
      </div>
      <p className="muted small">
        Demo sign-in uses development tokens (<code>--dev</code>). Elsewhere, open a page with <code>?token=&lt;JWT&gt;</code>.
      </p>
    </main>
  );
}
