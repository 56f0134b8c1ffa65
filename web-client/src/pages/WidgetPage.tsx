import { ChatSupport } from '../components/ChatSupport';

/** A pretend customer website with the support widget on it. */
export function WidgetPage() {
  return (
    <div className="widget-page">
      <header className="site-bar">
        <a href="/" className="brand">
          <span className="brand__mark" aria-hidden="true" />
          Switchboard
        </a>
        <span className="muted small">Customer widget</span>
      </header>
      <main id="main" className="widget-page__main">
        <ChatSupport />
      </main>
    </div>
  );
}
