// The API key lives in sessionStorage: it survives a reload of this tab, not the tab's closing,
// and no other tab or later visit sees it.
const STORAGE_KEY = 'easel.console.key';

export function loadKey(): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveKey(key: string): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    /* storage disabled: the key lasts until reload */
  }
}

export function forgetKey(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* nothing stored */
  }
}
