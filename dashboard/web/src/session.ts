// Who is signed in. The account's token lives in sessionStorage: a reload (a deep link) keeps
// it, closing the tab forgets it. The admin key is never stored: it stays in memory while the
// account picker is open, and a token minted from it is what the rest of the dashboard uses.

import { Api } from "./api";

export interface Signed {
  token: string;
  /** The account's name, when the dashboard minted the token for it. */
  account?: string;
}

const KEY = "sigma.signed-in";

export function signedIn(): Signed | null {
  const stored = sessionStorage.getItem(KEY);
  if (!stored) return null;
  try {
    const parsed = JSON.parse(stored) as Signed;
    return typeof parsed.token === "string" ? parsed : null;
  } catch {
    return null;
  }
}

export function signIn(signed: Signed) {
  sessionStorage.setItem(KEY, JSON.stringify(signed));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Told when the signed-in token stops working; the app then asks to sign in again. */
export const SIGNED_OUT = "sigma:signed-out";

/** The API as the signed-in account. A 401 signs out: an expired token is not retried every
 * poll (each refusal counts against the address's failed-auth budget). */
export function api(): Api {
  return new Api(signedIn()?.token ?? "", () => {
    signOut();
    dispatchEvent(new Event(SIGNED_OUT));
  });
}
