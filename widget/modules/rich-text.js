// Markdown-lite for bot messages: **bold**, "- " lists, line breaks, http(s)
// links and US phone numbers (tel: links). Anything else stays text. Only DOM
// APIs and textContent.

import { el } from './dom.js';

var LINK_OR_PHONE = /(https?:\/\/[^\s<>"']+)|((?:\+?1[\s.\-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4})(?!\d)/g;

function trimUrl(url) {
  // Drop punctuation that ends a sentence rather than the address.
  while (/[.,;:!?'")\]]$/.test(url)) {
    var last = url.charAt(url.length - 1);
    if (last === ')' && (url.split('(').length > url.split(')').length - 1)) {
      break;
    }
    url = url.slice(0, -1);
  }
  return url;
}

function safeHttpUrl(text) {
  try {
    var url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') ? url.href : null;
  } catch (e) {
    return null;
  }
}

function appendLinkified(parent, text) {
  var last = 0;
  var match;
  LINK_OR_PHONE.lastIndex = 0;
  while ((match = LINK_OR_PHONE.exec(text)) !== null) {
    var start = match.index;
    var raw = match[0];
    var link = null;
    if (match[1]) {
      raw = trimUrl(raw);
      var href = safeHttpUrl(raw);
      if (href) {
        link = el('a', 'achw-link', raw);
        link.href = href;
        link.target = '_blank';
        link.rel = 'noopener noreferrer';
      }
    } else if (start === 0 || !/[\d]/.test(text.charAt(start - 1))) {
      var digits = raw.replace(/\D/g, '').slice(-10);
      link = el('a', 'achw-link', raw);
      link.href = 'tel:+1' + digits;
    }
    if (!link) {
      continue;
    }
    if (start > last) {
      parent.appendChild(document.createTextNode(text.slice(last, start)));
    }
    parent.appendChild(link);
    last = start + raw.length;
    LINK_OR_PHONE.lastIndex = last;
  }
  if (last < text.length) {
    parent.appendChild(document.createTextNode(text.slice(last)));
  }
}

function appendInline(parent, text) {
  var parts = text.split('**');
  if (parts.length % 2 === 0) { // an unmatched "**" stays literal
    var tail = parts.pop();
    parts[parts.length - 1] += '**' + tail;
  }
  parts.forEach(function (part, i) {
    if (!part) {
      return;
    }
    if (i % 2 === 1) {
      var strong = el('strong');
      appendLinkified(strong, part);
      parent.appendChild(strong);
    } else {
      appendLinkified(parent, part);
    }
  });
}

export function renderRichText(parent, text) {
  var lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  var paragraph = null;
  var list = null;
  lines.forEach(function (line) {
    var item = /^\s*[-\u2022]\s+(.*)$/.exec(line);
    if (item) {
      paragraph = null;
      if (!list) {
        list = el('ul');
        parent.appendChild(list);
      }
      var li = el('li');
      appendInline(li, item[1]);
      list.appendChild(li);
      return;
    }
    list = null;
    if (!line.trim()) {
      paragraph = null;
      return;
    }
    if (paragraph) {
      paragraph.appendChild(el('br'));
    } else {
      paragraph = el('p');
      parent.appendChild(paragraph);
    }
    appendInline(paragraph, line);
  });
}
