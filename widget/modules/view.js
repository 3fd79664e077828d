// The widget on the page: a launcher button and a panel (a labelled non-modal
// dialog with a live-region log, a typing indicator and a form), inside a
// shadow root so the host page's styles and ours do not mix. Knows nothing of
// the connection; main.js drives it. Its words are those of the current
// language (modules/strings.js; setLanguage switches them).

import { el, icon, contrastText } from './dom.js';
import { renderRichText } from './rich-text.js';
import { STRINGS } from './strings.js';

export var MAX_INPUT_CHARS = 1000;
var PANEL_ID = 'achw-panel';

function buildHeader() {
  var header = el('header', 'achw-header');
  var heading = el('h2', 'achw-title');
  heading.id = 'achw-title';
  // English / Español: the other language's name, in that language
  var language = el('button', 'achw-language');
  language.type = 'button';
  var restart = el('button', 'achw-restart');
  restart.type = 'button';
  var closeButton = el('button', 'achw-close');
  closeButton.type = 'button';
  closeButton.appendChild(icon('close'));
  header.appendChild(heading);
  header.appendChild(language);
  header.appendChild(restart);
  header.appendChild(closeButton);
  return {
    header: header, heading: heading, language: language, restart: restart,
    closeButton: closeButton
  };
}

function buildTypingIndicator() {
  var typing = el('div', 'achw-typing');
  typing.hidden = true;
  typing.appendChild(el('span', 'achw-visually-hidden'));
  for (var dot = 0; dot < 3; dot++) {
    var d = el('span', 'achw-dot');
    d.setAttribute('aria-hidden', 'true');
    typing.appendChild(d);
  }
  return typing;
}

function buildForm() {
  var form = el('form', 'achw-form');
  var inputLabel = el('label', 'achw-visually-hidden');
  inputLabel.htmlFor = 'achw-input';
  var input = el('input', 'achw-input');
  input.id = 'achw-input';
  input.type = 'text';
  input.autocomplete = 'off';
  input.maxLength = MAX_INPUT_CHARS;
  var send = el('button', 'achw-send');
  send.type = 'submit';
  send.appendChild(icon('send'));
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(send);
  return { form: form, input: input, inputLabel: inputLabel, send: send };
}

// onQuickReply(button): a quick reply ({title, payload}) was clicked.
export function buildView(config, onQuickReply) {
  var words = STRINGS.en;
  var host = el('div');
  host.id = 'achilles-chat-widget';
  host.hidden = true; // shown once the stylesheet has loaded
  var root = host.attachShadow({ mode: 'open' });

  var stylesheet = el('link');
  stylesheet.rel = 'stylesheet';
  stylesheet.href = config.assetBase + 'widget.css';
  stylesheet.addEventListener('load', function () { host.hidden = false; });
  stylesheet.addEventListener('error', function () { host.hidden = false; });

  var wrapper = el('div', 'achw');

  var launcher = el('button', 'achw-launcher');
  launcher.type = 'button';
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', PANEL_ID);
  launcher.appendChild(icon('chat'));
  launcher.appendChild(icon('close')); // shown while the panel is open

  var panel = el('section', 'achw-panel');
  panel.id = PANEL_ID;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  panel.setAttribute('aria-labelledby', 'achw-title');
  panel.hidden = true;

  var top = buildHeader();

  var status = el('p', 'achw-status');
  status.setAttribute('role', 'status');

  var log = el('div', 'achw-log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.setAttribute('aria-relevant', 'additions');
  log.tabIndex = 0; // scrollable with the keyboard

  var typing = buildTypingIndicator();
  var bottom = buildForm();
  var note = el('p', 'achw-note');

  panel.appendChild(top.header);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(bottom.form);
  panel.appendChild(note);
  wrapper.appendChild(panel);
  wrapper.appendChild(launcher);
  root.appendChild(stylesheet);
  root.appendChild(wrapper);

  var activeReplies = null; // the quick-reply group that can still be used

  // lang: "en" or "es"; every word of the widget's own follows it
  function setLanguage(lang) {
    words = STRINGS[lang] || STRINGS.en;
    var title = config.title || words.title;
    host.lang = lang;
    top.heading.textContent = title;
    top.language.textContent = words.switchText;
    top.language.lang = words.switchTo;
    top.language.setAttribute('aria-label', words.switchLabel);
    top.restart.textContent = words.startOver;
    top.restart.setAttribute('aria-label', words.startOverLabel);
    top.closeButton.setAttribute('aria-label', words.close);
    typing.firstChild.textContent = words.typing;
    bottom.inputLabel.textContent = words.inputLabel;
    bottom.input.placeholder = words.placeholder;
    bottom.send.setAttribute('aria-label', words.send);
    launcher.setAttribute('aria-label', words.chat + title);
    log.setAttribute('aria-label', words.conversation);
    note.textContent = words.note;
    if (activeReplies) {
      activeReplies.setAttribute('aria-label', words.suggested);
    }
  }
  setLanguage('en');

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function removeQuickReplies() {
    if (activeReplies) {
      activeReplies.remove();
      activeReplies = null;
    }
  }

  function renderQuickReplies(buttons) {
    removeQuickReplies();
    if (!buttons.length) {
      return;
    }
    var group = el('div', 'achw-replies');
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', words.suggested);
    buttons.forEach(function (b) {
      var button = el('button', 'achw-reply', b.title);
      button.type = 'button';
      button.addEventListener('click', function () {
        onQuickReply(b);
        bottom.input.focus();
      });
      group.appendChild(button);
    });
    log.appendChild(group);
    activeReplies = group;
  }

  // message: {role: "user" | "bot" | "note", text, buttons}
  function renderMessage(message) {
    removeQuickReplies();
    var bubble = el('div', 'achw-msg achw-msg-' + message.role);
    var who = el('span', 'achw-visually-hidden', message.role === 'user' ? words.youSaid : words.assistant);
    bubble.appendChild(who);
    if (message.role === 'bot' || message.role === 'note') {
      renderRichText(bubble, message.text);
    } else {
      bubble.appendChild(el('p', null, message.text));
    }
    log.appendChild(bubble);
    if (message.buttons && message.buttons.length) {
      renderQuickReplies(message.buttons);
    }
    scrollToEnd();
  }

  // Only the last message's quick replies are shown again.
  function renderHistory(messages) {
    log.textContent = '';
    activeReplies = null;
    messages.forEach(function (m, i) {
      var isLast = i === messages.length - 1;
      renderMessage({ role: m.role, text: m.text, buttons: isLast ? m.buttons : [] });
    });
  }

  function setStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function showTyping(on) {
    typing.hidden = !on;
  }

  function showPanel(open) {
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
  }

  function mount() {
    wrapper.style.setProperty('--achw-color', config.color);
    wrapper.style.setProperty('--achw-on-color', contrastText(config.color));
    document.body.appendChild(host);
  }

  return {
    launcher: launcher,
    panel: panel,
    restart: top.restart,
    language: top.language,
    closeButton: top.closeButton,
    setLanguage: setLanguage,
    form: bottom.form,
    input: bottom.input,
    mount: mount,
    showPanel: showPanel,
    showTyping: showTyping,
    isPanelOpen: function () { return !panel.hidden; },
    renderMessage: renderMessage,
    renderHistory: renderHistory,
    setStatus: setStatus,
    scrollToEnd: scrollToEnd
  };
}
