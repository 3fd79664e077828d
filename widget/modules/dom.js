// Small DOM helpers. Text goes in with textContent only, never as HTML.

var SVG_NS = 'http://www.w3.org/2000/svg';
var ICON_SHAPES = {
  chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M3 20l18-8L3 4v6l12 2-12 2z'
};

export function el(tag, className, text) {
  var node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

// kind: "chat", "close" or "send"; decorative (aria-hidden), the button has the name.
export function icon(kind) {
  var svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '24');
  svg.setAttribute('height', '24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'achw-icon achw-icon-' + kind);
  svg.setAttribute('focusable', 'false');
  var path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICON_SHAPES[kind]);
  if (kind === 'close') {
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', 'currentColor');
    path.setAttribute('stroke-width', '2.2');
    path.setAttribute('stroke-linecap', 'round');
  } else {
    path.setAttribute('fill', 'currentColor');
  }
  svg.appendChild(path);
  return svg;
}

// Text on the brand colour: white or near-black, whichever reads better.
export function contrastText(color) {
  var probe = el('span');
  probe.style.color = color;
  probe.hidden = true;
  document.body.appendChild(probe);
  var rgb = (getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) || [0, 0, 0]).map(Number);
  probe.remove();
  var lum = rgb.slice(0, 3).map(function (v) {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  var l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
  return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? '#ffffff' : '#111111';
}
