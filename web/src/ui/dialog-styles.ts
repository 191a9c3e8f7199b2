import { css } from 'lit';

/** The modal dialogs (group info, new chat, my devices): a native <dialog>, so focus stays inside and Escape closes. */
export const dialogStyles = css`
  :host {
    display: contents;
  }
  dialog {
    width: min(520px, calc(100vw - 24px));
    max-height: min(720px, calc(100vh - 24px));
    padding: 0;
    border: none;
    border-radius: 16px;
    box-shadow: 0 12px 40px rgba(0, 0, 0, 0.25);
    color: var(--ink);
    background: var(--panel);
    overflow: hidden;
  }
  dialog[open] {
    display: flex;
    flex-direction: column;
  }
  dialog::backdrop {
    background: rgba(17, 27, 33, 0.45);
  }
  .head {
    display: flex;
    align-items: center;
    gap: 12px;
    padding: 14px 12px 14px 20px;
    border-bottom: 1px solid var(--line);
  }
  .head h2 {
    flex: 1;
    margin: 0;
    font-size: 1.15rem;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .body {
    overflow-y: auto;
    padding: 8px 20px 20px;
  }
  h3 {
    font-size: 0.95rem;
    margin: 18px 0 8px;
    color: var(--brand-strong);
  }
  ul.people {
    list-style: none;
    margin: 0;
    padding: 0;
  }
  ul.people li {
    display: flex;
    align-items: center;
    gap: 12px;
    padding: 8px 0;
    border-bottom: 1px solid var(--line);
  }
  ul.people li:last-child {
    border-bottom: none;
  }
  .who {
    display: flex;
    flex-direction: column;
    min-width: 0;
    flex: 1;
  }
  .name {
    font-weight: 600;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .tags {
    display: flex;
    flex-wrap: wrap;
    gap: 4px;
    margin-top: 2px;
  }
  .tag {
    font-size: 0.75rem;
    color: var(--ink-soft);
    border: 1px solid var(--line);
    border-radius: 6px;
    padding: 0 6px;
  }
  .tag.teacher {
    color: var(--brand-strong);
    border-color: #a9d6cb;
  }
  .tag.mod {
    color: #6b3fc0;
    border-color: #d5c6f0;
  }
  .tag.school {
    color: #1c5a9e;
    border-color: #b7cbe6;
  }
  .muted {
    color: var(--ink-soft);
  }
  .error {
    color: var(--danger);
    font-weight: 600;
  }
  input[type='search'],
  input[type='text'] {
    width: 100%;
    font: inherit;
    font-size: 1rem;
    padding: 10px 14px;
    border: 1px solid #8a9a97;
    border-radius: 10px;
    background: #fff;
    color: var(--ink);
  }
`;
