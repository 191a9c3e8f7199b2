import { css } from 'lit';

/** Shared tokens and base styles for every component (each has its own shadow root). */
export const base = css`
  :host {
    --brand: #0b6e63;
    --brand-strong: #085a51;
    --brand-soft: #e3f3ef;
    --ink: #111b21;
    --ink-soft: #4a5a57;
    --line: #e2e8e6;
    --panel: #ffffff;
    --panel-alt: #f4f7f6;
    --chat-bg: #ece8e1;
    --bubble-own: #d5f2e3;
    --bubble-other: #ffffff;
    --badge: #0b7d5c;
    --danger: #b3261e;
    --warn-bg: #fff4ce;
    --warn-ink: #5c4400;
    --focus: #1f5fa8;
    --radius: 12px;
    box-sizing: border-box;
    font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Helvetica Neue', Arial, sans-serif;
    color: var(--ink);
  }
  *,
  *::before,
  *::after {
    box-sizing: inherit;
  }
  :focus-visible {
    outline: 3px solid var(--focus);
    outline-offset: 2px;
    border-radius: 6px;
  }
  .sr-only {
    position: absolute;
    width: 1px;
    height: 1px;
    padding: 0;
    margin: -1px;
    overflow: hidden;
    clip: rect(0, 0, 0, 0);
    white-space: nowrap;
    border: 0;
  }
  .icon {
    width: 24px;
    height: 24px;
    flex: none;
  }
  button {
    font: inherit;
    color: inherit;
  }
  .icon-button {
    display: inline-grid;
    place-items: center;
    width: 40px;
    height: 40px;
    border: none;
    border-radius: 50%;
    background: transparent;
    color: var(--ink-soft);
    cursor: pointer;
  }
  .icon-button:hover {
    background: rgba(0, 0, 0, 0.06);
  }
  .primary {
    display: inline-flex;
    align-items: center;
    justify-content: center;
    gap: 8px;
    min-height: 48px;
    padding: 0 24px;
    border: none;
    border-radius: 24px;
    background: var(--brand);
    color: #fff;
    font-weight: 600;
    font-size: 1rem;
    cursor: pointer;
  }
  .primary:hover {
    background: var(--brand-strong);
  }
  .primary[disabled] {
    opacity: 0.6;
    cursor: progress;
  }
  .link-button {
    border: none;
    background: none;
    color: var(--brand);
    font-weight: 600;
    padding: 8px;
    cursor: pointer;
    text-decoration: underline;
    text-underline-offset: 3px;
  }
  .avatar {
    display: inline-grid;
    place-items: center;
    flex: none;
    width: 48px;
    height: 48px;
    border-radius: 50%;
    color: #fff;
    font-weight: 600;
    font-size: 1.05rem;
    letter-spacing: 0.02em;
    user-select: none;
  }
  .avatar.small {
    width: 40px;
    height: 40px;
    font-size: 0.95rem;
  }
  @media (prefers-reduced-motion: reduce) {
    *,
    *::before,
    *::after {
      animation-duration: 0.01ms !important;
      animation-iteration-count: 1 !important;
      transition-duration: 0.01ms !important;
      scroll-behavior: auto !important;
    }
  }
`;
