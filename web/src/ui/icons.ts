import { svg } from 'lit';

/** Inline icons (24×24, currentColor). Decorative: the control around each carries the accessible name. */
const icon = (body: ReturnType<typeof svg>) =>
  svg`<svg class="icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">${body}</svg>`;

export const sendIcon = icon(svg`<path fill="currentColor" d="M3.4 20.4 21.9 12.9a1 1 0 0 0 0-1.8L3.4 3.6a1 1 0 0 0-1.4 1.2L4.3 11 14 12l-9.7 1-2.3 6.2a1 1 0 0 0 1.4 1.2z"/>`);
export const backIcon = icon(svg`<path fill="currentColor" d="M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z"/>`);
export const clockIcon = icon(svg`<path fill="currentColor" d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7z"/>`);
export const checkIcon = icon(svg`<path fill="currentColor" d="M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z"/>`);
export const doubleCheckIcon = icon(
  svg`<path fill="currentColor" d="m1.5 13.4 1.4-1.4 4.6 4.6-1.4 1.4zM22.6 5.6 11.6 16.6 7.9 13l-1.4 1.4 5.1 5.1L24 7zM18 7l-1.4-1.4-6.3 6.3 1.4 1.4z"/>`,
);
export const lockIcon = icon(svg`<path fill="currentColor" d="M18 8h-1V6A5 5 0 0 0 7 6v2H6a2 2 0 0 0-2 2v10c0 1.1.9 2 2 2h12a2 2 0 0 0 2-2V10a2 2 0 0 0-2-2zM9 6a3 3 0 0 1 6 0v2H9zm9 14H6V10h12zm-6-3a2 2 0 1 0 0-4 2 2 0 0 0 0 4z"/>`);
export const switchIcon = icon(
  svg`<path fill="currentColor" d="M16 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm-8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm0 2c-2.3 0-7 1.2-7 3.5V19h14v-2.5C15 14.2 10.3 13 8 13zm8 0-1 .1c1.2.8 2 2 2 3.4V19h6v-2.5c0-2.3-4.7-3.5-7-3.5z"/>`,
);
export const globeIcon = icon(
  svg`<path fill="currentColor" d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm6.9 6h-2.9a15.7 15.7 0 0 0-1.4-3.6A8 8 0 0 1 18.9 8zM12 4c.8 1.2 1.5 2.5 1.9 4h-3.8c.4-1.4 1.1-2.8 1.9-4zM4.3 14a8.2 8.2 0 0 1 0-4h3.4a16.5 16.5 0 0 0 0 4zm.8 2h3c.3 1.3.8 2.5 1.4 3.6A8 8 0 0 1 5.1 16zm3-8h-3a8 8 0 0 1 4.3-3.6C8.9 5.5 8.5 6.7 8.1 8zM12 20c-.8-1.2-1.5-2.5-1.9-4h3.8c-.4 1.4-1.1 2.8-1.9 4zm2.3-6H9.7a14.7 14.7 0 0 1 0-4h4.6a14.7 14.7 0 0 1 0 4zm.3 5.6c.6-1.1 1.1-2.3 1.4-3.6h3a8 8 0 0 1-4.4 3.6zm1.8-5.6a16.5 16.5 0 0 0 0-4h3.4a8.2 8.2 0 0 1 0 4z"/>`,
);
export const plusIcon = icon(svg`<path fill="currentColor" d="M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6z"/>`);
export const offlineIcon = icon(
  svg`<path fill="currentColor" d="M23.6 7A17.5 17.5 0 0 0 7.1 3.4l1.7 1.7A15.5 15.5 0 0 1 22.2 8.4zM2.8 2.3 1.4 3.7l2.1 2.1A17 17 0 0 0 .4 7l12 14.4 3.1-3.7 4 4 1.4-1.4zm9.6 15.9L3.3 7.3a14.8 14.8 0 0 1 1.7-.9l9.1 9.1z"/>`,
);
export const replyIcon = icon(svg`<path fill="currentColor" d="M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z"/>`);
export const logo = svg`<svg class="logo" viewBox="0 0 64 64" width="64" height="64" aria-hidden="true" focusable="false">
  <rect width="64" height="64" rx="18" fill="#0b6e63"/>
  <path fill="#fff" d="M14 20a6 6 0 0 1 6-6h24a6 6 0 0 1 6 6v16a6 6 0 0 1-6 6H28l-9 8v-8h1a6 6 0 0 1-6-6z" opacity=".95"/>
  <circle cx="24" cy="28" r="3" fill="#0b6e63"/><circle cx="32" cy="28" r="3" fill="#0b6e63"/><circle cx="40" cy="28" r="3" fill="#0b6e63"/>
</svg>`;
export const moreIcon = icon(svg`<path fill="currentColor" d="M7.4 8.6 12 13.2l4.6-4.6L18 10l-6 6-6-6z"/>`);
export const editIcon = icon(svg`<path fill="currentColor" d="M3 17.2V21h3.8l11-11-3.8-3.8zM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.8 3.8z"/>`);
export const deleteIcon = icon(svg`<path fill="currentColor" d="M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z"/>`);
export const bellIcon = icon(svg`<path fill="currentColor" d="M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6V11c0-3.1-1.6-5.6-4.5-6.3V4a1.5 1.5 0 0 0-3 0v.7C7.6 5.4 6 7.9 6 11v5l-2 2v1h16v-1z"/>`);
export const attachIcon = icon(
  svg`<path fill="currentColor" d="M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z"/>`,
);
export const fileIcon = icon(svg`<path fill="currentColor" d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm4 18H6V4h7v5h5zM8 13h8v2H8zm0 4h5v2H8z"/>`);
/** Two linked rings: a direct link to another device. */
export const linkIcon = icon(
  svg`<path fill="currentColor" d="M3.9 12a3.1 3.1 0 0 1 3.1-3.1h4V7H7a5 5 0 0 0 0 10h4v-1.9H7A3.1 3.1 0 0 1 3.9 12zM8 13h8v-2H8zm9-6h-4v1.9h4a3.1 3.1 0 0 1 0 6.2h-4V17h4a5 5 0 0 0 0-10z"/>`,
);
export const infoIcon = icon(svg`<path fill="currentColor" d="M11 7h2v2h-2zm0 4h2v6h-2zm1-9a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16z"/>`);
export const closeIcon = icon(svg`<path fill="currentColor" d="M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z"/>`);
export const newChatIcon = icon(
  svg`<path fill="currentColor" d="M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zm0 14H5.2L4 17.2V4h16zM11 5h2v4h4v2h-4v4h-2v-4H7V9h4z"/>`,
);
export const devicesIcon = icon(
  svg`<path fill="currentColor" d="M4 6h18V4H4a2 2 0 0 0-2 2v11H0v3h14v-3H4zm19 2h-6a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h6a1 1 0 0 0 1-1V9a1 1 0 0 0-1-1zm-1 9h-4v-7h4z"/>`,
);
export const qrIcon = icon(
  svg`<path fill="currentColor" d="M3 3h8v8H3zm2 2v4h4V5zm8-2h8v8h-8zm2 2v4h4V5zM3 13h8v8H3zm2 2v4h4v-4zm13-2h3v2h-3zm-5 0h3v3h-3zm3 3h2v3h-2zm2 2h3v3h-3zm-5 1h3v2h-3zm5-5h3v3h-2v-1h-1z"/>`,
);
