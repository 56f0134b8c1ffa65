// Files dragged from the desktop onto an element: `dragging` while they
// hover it (for a visible drop zone), `onFiles` when they are dropped.
// Other drags (text, links) are left to the browser. While it is mounted,
// files dropped beside the element do nothing (the browser would otherwise
// leave the chat to open them).

import { useEffect, useRef, useState, type DragEvent } from 'react';

export type FileDropHandlers = {
  onDragEnter: (e: DragEvent) => void;
  onDragOver: (e: DragEvent) => void;
  onDragLeave: (e: DragEvent) => void;
  onDrop: (e: DragEvent) => void;
};

function carriesFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files');
}

export function useFileDrop(onFiles: (files: File[]) => void, enabled: boolean): { dragging: boolean; handlers: FileDropHandlers } {
  const [dragging, setDragging] = useState(false);
  // dragenter/dragleave fire for every child crossed: count them.
  const depth = useRef(0);

  useEffect(() => {
    // Runs after the element's handlers (the window is the last stop of a
    // bubbling event): what they took is already defaultPrevented.
    const guard = (e: globalThis.DragEvent) => {
      if (e.defaultPrevented || !e.dataTransfer || !Array.from(e.dataTransfer.types).includes('Files')) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'none';
    };
    window.addEventListener('dragover', guard);
    window.addEventListener('drop', guard);
    return () => {
      window.removeEventListener('dragover', guard);
      window.removeEventListener('drop', guard);
    };
  }, []);

  const handlers: FileDropHandlers = {
    onDragEnter: (e) => {
      if (!enabled || !carriesFiles(e)) return;
      e.preventDefault();
      depth.current += 1;
      setDragging(true);
    },
    onDragOver: (e) => {
      if (!enabled || !carriesFiles(e)) return;
      e.preventDefault(); // allows the drop
      e.dataTransfer.dropEffect = 'copy';
    },
    onDragLeave: (e) => {
      if (!enabled || !carriesFiles(e)) return;
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setDragging(false);
    },
    onDrop: (e) => {
      if (!carriesFiles(e)) return;
      e.preventDefault(); // never let the browser open the file instead
      depth.current = 0;
      setDragging(false);
      if (!enabled) return;
      const files = Array.from(e.dataTransfer.files ?? []);
      if (files.length) onFiles(files);
    },
  };

  return { dragging: dragging && enabled, handlers };
}
