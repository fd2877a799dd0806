// The dashboard: sign in, then the page the path names. Every call goes to the public API.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Channel } from "./pages/Channel";
import { Channels } from "./pages/Channels";
import { SignIn } from "./pages/SignIn";
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
