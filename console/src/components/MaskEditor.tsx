// A mask painted over the first reference image. What is painted is what the model may change:
// exported as OpenAI's alpha mask (transparent = edit, opaque = keep), the size of the image.
import { useCallback, useEffect, useImperativeHandle, useRef, useState, type PointerEvent, type Ref } from 'react';

export interface MaskHandle {
  /** The mask as a PNG, or null when nothing is painted. */
  exportMask(): Promise<Blob | null>;
}

interface Props {
  src: string;
  width: number;
  height: number;
  alt: string;
  onChange(painted: boolean): void;
  ref?: Ref<MaskHandle>;
}

const PAINT = [255, 45, 85] as const;

function anyPainted(ctx: CanvasRenderingContext2D, w: number, h: number): boolean {
  const data = ctx.getImageData(0, 0, w, h).data;
  for (let i = 3; i < data.length; i += 4) if (data[i]! >= 128) return true;
  return false;
}

export function MaskEditor({ src, width, height, alt, onChange, ref }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const last = useRef<{ x: number; y: number } | null>(null);
  const [tool, setTool] = useState<'brush' | 'eraser'>('brush');
  const [size, setSize] = useState(40);
  const [painted, setPainted] = useState(false);

  const context = () => canvas.current?.getContext('2d', { willReadFrequently: true }) ?? null;
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const update = useCallback((value: boolean) => {
    setPainted(value);
    onChangeRef.current(value);
  }, []);

  // A new image is a new mask.
  useEffect(() => {
    context()?.clearRect(0, 0, width, height);
    update(false);
  }, [src, width, height, update]);

  useImperativeHandle(ref, () => ({
    async exportMask() {
      const ctx = context();
      if (!ctx || !painted) return null;
      const paint = ctx.getImageData(0, 0, width, height).data;
      const out = new ImageData(width, height);
      for (let i = 0; i < paint.length; i += 4) out.data[i + 3] = paint[i + 3]! >= 128 ? 0 : 255; // black, opaque = keep
      const c = document.createElement('canvas');
      c.width = width;
      c.height = height;
      c.getContext('2d')!.putImageData(out, 0, 0);
      return new Promise<Blob | null>((resolve) => c.toBlob((b) => resolve(b), 'image/png'));
    },
  }));

  const point = (e: PointerEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) * width) / rect.width, y: ((e.clientY - rect.top) * height) / rect.height, scale: width / rect.width };
  };

  const stroke = (from: { x: number; y: number }, to: { x: number; y: number }, scale: number) => {
    const ctx = context();
    if (!ctx) return;
    ctx.globalCompositeOperation = tool === 'eraser' ? 'destination-out' : 'source-over';
    ctx.strokeStyle = ctx.fillStyle = `rgb(${PAINT.join(',')})`;
    ctx.lineWidth = size * scale;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x + 0.01, to.y);
    ctx.stroke();
  };

  const onPointerDown = (e: PointerEvent<HTMLCanvasElement>) => {
    if (e.button !== 0) return;
    e.currentTarget.setPointerCapture(e.pointerId);
    const p = point(e);
    last.current = p;
    stroke(p, p, p.scale);
  };
  const onPointerMove = (e: PointerEvent<HTMLCanvasElement>) => {
    if (!last.current) return;
    const p = point(e);
    stroke(last.current, p, p.scale);
    last.current = p;
  };
  const onPointerUp = () => {
    if (!last.current) return;
    last.current = null;
    const ctx = context();
    if (ctx) update(tool === 'brush' ? true : anyPainted(ctx, width, height));
  };

  const clear = () => {
    context()?.clearRect(0, 0, width, height);
    update(false);
  };
  const invert = () => {
    const ctx = context();
    if (!ctx) return;
    const img = ctx.getImageData(0, 0, width, height);
    const d = img.data;
    let any = false;
    for (let i = 0; i < d.length; i += 4) {
      const on = d[i + 3]! < 128;
      d[i] = PAINT[0];
      d[i + 1] = PAINT[1];
      d[i + 2] = PAINT[2];
      d[i + 3] = on ? 255 : 0;
      any ||= on;
    }
    ctx.putImageData(img, 0, 0);
    update(any);
  };

  return (
    <div className="mask-editor">
      <div className="mask-tools" role="group" aria-label="Mask tools">
        <button type="button" className="toggle" aria-pressed={tool === 'brush'} onClick={() => setTool('brush')}>
          Brush
        </button>
        <button type="button" className="toggle" aria-pressed={tool === 'eraser'} onClick={() => setTool('eraser')}>
          Eraser
        </button>
        <label className="inline">
          Size
          <input type="range" min={4} max={160} step={2} value={size} onChange={(e) => setSize(Number(e.target.value))} />
          <span className="muted" aria-hidden="true">
            {size}px
          </span>
        </label>
        <button type="button" onClick={clear} disabled={!painted}>
          Clear
        </button>
        <button type="button" onClick={invert}>
          Invert
        </button>
      </div>
      <div className="mask-stage" style={{ aspectRatio: `${width} / ${height}` }}>
        <img src={src} alt={alt} draggable={false} />
        <canvas
          ref={canvas}
          width={width}
          height={height}
          data-testid="mask-canvas"
          aria-label={`Mask over ${alt}: paint the area to change`}
          className={tool === 'eraser' ? 'erasing' : undefined}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
        />
      </div>
      <p className="hint">
        {painted ? 'The painted area will change; the rest is kept.' : 'Paint over the area to change, or leave it empty to edit the whole image.'} Sent
        as an alpha mask ({width}×{height}, transparent = edit).
      </p>
    </div>
  );
}
