// The GraphQL page (web/graphiql.py): GraphiQL from the vendored UMD builds, signed in with the
// dashboard's login. A file, not inline script (CSP). Requests carry the login cookie (same
// origin) and the page's CSRF token, which /graphql requires of a cookie (app/schema/login.py):
// in a header over HTTP, in connection_init over WebSocket (subscriptions). A key pasted in
// GraphiQL's Headers pane is sent too, and the server prefers it.
(function () {
  "use strict";
  const mount = document.getElementById("graphiql");
  if (!mount || !window.GraphiQL || !window.React || !window.ReactDOM) return;
  const data = mount.dataset;
  // react-remove-scroll (GraphiQL's dialogs and menus) adds a <style> element stamped with
  // webpack's nonce; the page's CSP allows this request's nonce for styles, nothing inline else.
  window.__webpack_nonce__ = data.styleNonce;
  const csrf = { "X-CSRF-Token": data.csrf };
  const socket = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  const fetcher = window.GraphiQL.createFetcher({
    url: data.endpoint,
    headers: csrf,
    subscriptionUrl: socket + data.endpoint,
    wsConnectionParams: csrf,
  });
  const element = window.React.createElement(window.GraphiQL, {
    fetcher: fetcher,
    defaultQuery: data.defaultQuery,
  });
  mount.textContent = "";
  window.ReactDOM.createRoot(mount).render(element);
})();
