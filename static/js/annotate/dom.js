// Two helpers every module of the annotate page needs: an element by id, and the CSRF token
// Django expects on every write (read from its cookie at each request, never kept).
export const $ = (id) => document.getElementById(id);

export const csrf = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
