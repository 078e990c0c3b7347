// Helpers the annotate page's modules (and the vote page's model hint) need: an element by id,
// the CSRF token Django expects on every write (read from its cookie at each request, never
// kept), and a model error message with when to ask again.
export const $ = (id) => document.getElementById(id);

export const csrf = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";

// The server's message once, then when to ask again only if it does not say so itself: never
// "Try again in 7 s. Ask again in 7 s.", never "..".
export function withRetry(message, seconds) {
  let text = String(message).trim().replace(/(^|[^.])\.\.(?!\.)/g, "$1.");
  if (text && !/[.!?\u2026]$/.test(text)) text += ".";
  if (seconds > 0 && !/\b(try|ask) again\b/i.test(text)) {
    text += ` Ask again in ${Math.ceil(seconds)} s.`;
  }
  return text;
}
