import type { ReactiveController, ReactiveControllerHost } from 'lit';

const SETTING = 'schoolmesh.autoLockMinutes';
const ACTIVITY = 'schoolmesh.lastActivity';
export const DEFAULT_AUTO_LOCK_MINUTES = 15;
/** The choices the settings offer; 0 = never. */
export const AUTO_LOCK_CHOICES = [5, 15, 30, 60, 0] as const;
const EVENTS = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;

/** Minutes of inactivity before the open profile locks (0: never). Kept per browser (a shared laptop's setting). */
export function autoLockMinutes(): number {
  try {
    const raw = localStorage.getItem(SETTING);
    if (raw === null) return DEFAULT_AUTO_LOCK_MINUTES;
    const n = Number(raw);
    return Number.isFinite(n) && n >= 0 ? n : DEFAULT_AUTO_LOCK_MINUTES;
  } catch {
    return DEFAULT_AUTO_LOCK_MINUTES;
  }
}

export function setAutoLockMinutes(minutes: number): void {
  try {
    localStorage.setItem(SETTING, String(minutes));
  } catch {
    // private mode: the default applies
  }
}

/**
 * Locks the open profile after a stretch without input. Activity in any tab of the app counts (it is shared through
 * localStorage), so an idle second tab never locks the one being used; the lock itself (the engine worker's) then
 * reaches every tab. The clock is injectable for tests.
 */
export class AutoLockController implements ReactiveController {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastWrite = 0;
  private lastInput = 0;
  private active = false;

  constructor(
    host: ReactiveControllerHost,
    private readonly lock: () => void,
    private readonly now: () => number = Date.now,
  ) {
    host.addController(this);
  }

  /** Starts watching (a profile was opened) or stops (locked, or no profile). */
  set watching(on: boolean) {
    if (on === this.active) return;
    this.active = on;
    if (on) {
      this.lastWrite = 0;
      this.activity();
    } else if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  hostConnected(): void {
    for (const e of EVENTS) addEventListener(e, this.onActivity, { passive: true, capture: true });
  }

  hostDisconnected(): void {
    for (const e of EVENTS) removeEventListener(e, this.onActivity, { capture: true });
    this.watching = false;
  }

  private onActivity = (): void => {
    if (this.active) this.activity();
  };

  private activity(): void {
    const now = this.now();
    this.lastInput = now;
    // One write every few seconds is plenty for a limit of minutes.
    if (now - this.lastWrite >= 2_000) {
      this.lastWrite = now;
      try {
        localStorage.setItem(ACTIVITY, String(now));
      } catch {
        // private mode: this tab's own input still counts below
      }
    }
    // The setting may have changed since the last check: measure from this input with the current one.
    this.schedule();
  }

  private lastActivity(): number {
    try {
      return Math.max(this.lastInput, Number(localStorage.getItem(ACTIVITY)) || 0);
    } catch {
      return this.lastInput;
    }
  }

  /** Checks again when the limit could next be reached (at most every 30 s: the setting may change meanwhile). */
  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.active) return;
    const limit = autoLockMinutes() * 60_000;
    if (limit <= 0) {
      this.timer = setTimeout(() => this.schedule(), 30_000);
      return;
    }
    const left = this.lastActivity() + limit - this.now();
    if (left <= 0) {
      this.active = false;
      this.lock();
      return;
    }
    this.timer = setTimeout(() => this.schedule(), Math.min(left + 50, 30_000));
  }
}
