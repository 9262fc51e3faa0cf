// GraphiQL at /graphql, from the vendored React and GraphiQL bundles (no CDN). The token is
// the dashboard's (this tab's session, or a `#token=` sign-in link): it is sent in the
// Authorization header, which the Headers tab shows and lets the caller change.
(function () {
  "use strict";
  var KEY = "jobledger.token";
  var match = /^#token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  var token = sessionStorage.getItem(KEY);
  var headers = JSON.stringify({ Authorization: "Bearer " + (token || "<token>") }, null, 2);
  var fetcher = GraphiQL.createFetcher({ url: location.pathname });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: token ? false : "headers",
      shouldPersistHeaders: false,
      defaultQuery: "{\n  me { subject tenant roles }\n  jobs(first: 5) {\n    totalCount\n    edges { node { id type status cost { amount currency } } }\n  }\n}\n",
    })
  );
})();
