// The visible viewport's height, for phones whose on-screen keyboard covers the page without resizing it.
//
// Chrome on Android resizes the layout viewport (index.html asks for `interactive-widget=resizes-content`), so
// 100dvh follows the keyboard by itself. iOS Safari does not: the keyboard only shrinks the visual viewport, and
// the composer would sit under it. Following `visualViewport.height` in `--viewport-height` (style.css: the app's
// height) keeps the header, the newest messages and the composer inside what is visible in both.

/** Above this zoom the visual viewport is a magnified part of the page, not the space left by a keyboard. */
const MAX_SCALE = 1.01;

export interface ViewportLike {
  readonly height: number;
  readonly scale: number;
}

/** The height to give the app, or null to leave it to CSS (100dvh): zoomed in, or no usable height. */
export function appHeight(viewport: ViewportLike | null): string | null {
  if (viewport === null || !(viewport.height > 0) || viewport.scale > MAX_SCALE) {
    return null;
  }
  return `${Math.round(viewport.height)}px`;
}

/** Keeps `--viewport-height` on the root element equal to the visual viewport's height (CSSOM: CSP-safe). */
export function followVisualViewport(win: Window = window): void {
  const viewport = win.visualViewport ?? null;
  if (viewport === null) {
    return;
  }
  const root = win.document.documentElement;
  const update = (): void => {
    const height = appHeight(viewport);
    if (height === null) {
      root.style.removeProperty('--viewport-height');
    } else {
      root.style.setProperty('--viewport-height', height);
    }
  };
  viewport.addEventListener('resize', update);
  win.addEventListener('resize', update); // a window resize may come first: never keep a stale height
  update();
}
