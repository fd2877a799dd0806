// The dashboard: sign in, then the page the path names. Every call goes to the public API.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Channel } from "./pages/Channel";
import { Channels } from "./pages/Channels";
import { SignIn } from "./pages/SignIn";
import { Tokens } from "./pages/Tokens";
import { Webhooks } from "./pages/Webhooks";
import { follow, route, usePath } from "./router";
import { SIGNED_OUT, signedIn, signOut } from "./session";
import "./style.css";

function App() {
  const path = usePath();
  const [signed, setSigned] = useState(signedIn());
  const page = route(path);
  useEffect(() => {
    const expired = () => setSigned(null);
    addEventListener(SIGNED_OUT, expired);
    return () => removeEventListener(SIGNED_OUT, expired);
  }, []);

  if (!signed) return <SignIn signedIn={() => setSigned(signedIn())} />;
  return (
    <>
      <header class="bar">
        <a href="/" class="brand" onClick={(e) => follow(e, "/")}>
          Sigma Live
        </a>
        <nav aria-label="Sections">
          <a
            href="/"
            aria-current={page.page === "channels" || page.page === "channel" ? "page" : undefined}
            onClick={(e) => follow(e, "/")}
          >
            Channels
          </a>
          <a
            href="/webhooks"
            aria-current={page.page === "webhooks" ? "page" : undefined}
            onClick={(e) => follow(e, "/webhooks")}
          >
            Webhooks
          </a>
          <a
            href="/tokens"
            aria-current={page.page === "tokens" ? "page" : undefined}
            onClick={(e) => follow(e, "/tokens")}
          >
            Tokens
          </a>
        </nav>
        <span class="who">{signed.account ?? "Signed in"}</span>
        <button
          type="button"
          onClick={() => {
            signOut();
            setSigned(null);
          }}
        >
          Sign out
        </button>
      </header>
      {page.page === "channels" && <Channels />}
      {page.page === "channel" && <Channel key={page.id} id={page.id} />}
      {page.page === "webhooks" && <Webhooks selected={page.id} />}
      {page.page === "tokens" && <Tokens />}
      {page.page === "not-found" && (
        <main>
          <h1>No such page</h1>
          <p>
            <a href="/" onClick={(e) => follow(e, "/")}>
              Back to the channels
            </a>
          </p>
        </main>
      )}
    </>
  );
}

render(<App />, document.getElementById("app")!);
