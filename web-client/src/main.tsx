// Entry point. The server serves index.html for every non-API path, so a
// tiny router on `location.pathname` is all the demo needs.

import { StrictMode, Suspense, lazy } from 'react';
import { createRoot } from 'react-dom/client';
import { DashboardPage } from './pages/DashboardPage';
import { HomePage } from './pages/HomePage';
import { SettingsPage } from './pages/SettingsPage';
import { WidgetPage } from './pages/WidgetPage';
import './styles.css';

// The reports page draws charts: its code (and the chart library) loads only there.
const ReportsPage = lazy(() => import('./pages/ReportsPage').then((m) => ({ default: m.ReportsPage })));
// Admins only, and rarely: its code loads only there too.
const IntegrationsPage = lazy(() => import('./pages/IntegrationsPage').then((m) => ({ default: m.IntegrationsPage })));

function route(pathname: string) {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { title: 'Switchboard', page: <HomePage /> };
  if (path === '/widget') return { title: 'Support chat · Switchboard', page: <WidgetPage /> };
  if (path === '/dashboard') return { title: 'Agent dashboard · Switchboard', page: <DashboardPage /> };
  if (path === '/settings') return { title: 'Settings · Switchboard', page: <SettingsPage /> };
  if (path === '/reports') {
    return {
      title: 'Reports · Switchboard',
      page: (
        <Suspense fallback={<p className="muted center">Loading…</p>}>
          <ReportsPage />
        </Suspense>
      ),
    };
  }
  if (path === '/integrations') {
    return {
      title: 'Integrations · Switchboard',
      page: (
        <Suspense fallback={<p className="muted center">Loading…</p>}>
          <IntegrationsPage />
        </Suspense>
      ),
    };
  }
  return {
    title: 'Not found · Switchboard',
    page: (
      <main className="home" id="main">
        <h1>Page not found</h1>
        <p>
          <a href="/">Back to the start page</a>
        </p>
      </main>
    ),
  };
}

const { title, page } = route(window.location.pathname);
document.title = title;

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      {page}
    </StrictMode>,
  );
}
