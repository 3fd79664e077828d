// The widget's own words in each language it speaks: English and Spanish
// (issue 19). The assistant's answers come from the server in the
// conversation's language; these are the buttons, labels and notes around them.
// `hello` is what the English/Español switch sends (shown as the patient's
// message): a greeting the assistant recognises in that language, so the
// conversation continues in it.

export var STRINGS = {
  en: {
    title: 'Questions about Achilles tendon rupture',
    startOver: 'Start over',
    startOverLabel: 'Start over: clear this conversation',
    close: 'Close chat',
    typing: 'The assistant is typing',
    inputLabel: 'Type your question',
    placeholder: 'Type your question…',
    send: 'Send',
    chat: 'Chat: ',
    conversation: 'Conversation',
    note: 'Automated assistant. Not medical advice. In an emergency, call 911.',
    suggested: 'Suggested questions',
    youSaid: 'You said: ',
    assistant: 'Assistant: ',
    noAnswer: 'No answer yet. Please try again in a moment',
    orCall: ' or call the office at ',
    emergency: '. In an emergency, call 911.',
    reconnecting: 'Connection lost. Reconnecting…',
    connecting: 'Connecting…',
    cleared: 'This conversation was cleared after 30 minutes without activity.',
    switchTo: 'es',
    switchText: 'Español',
    switchLabel: 'Español: cambiar el chat a español',
    hello: 'Hi, English please'
  },
  es: {
    title: 'Preguntas sobre la ruptura del tendón de Aquiles',
    startOver: 'Empezar de nuevo',
    startOverLabel: 'Empezar de nuevo: borrar esta conversación',
    close: 'Cerrar el chat',
    typing: 'El asistente está escribiendo',
    inputLabel: 'Escriba su pregunta',
    placeholder: 'Escriba su pregunta…',
    send: 'Enviar',
    chat: 'Chat: ',
    conversation: 'Conversación',
    note: 'Asistente automático. No es consejo médico. En una emergencia, llame al 911.',
    suggested: 'Preguntas sugeridas',
    youSaid: 'Usted dijo: ',
    assistant: 'Asistente: ',
    noAnswer: 'Todavía no hay respuesta. Por favor intente de nuevo en un momento',
    orCall: ' o llame a la oficina al ',
    emergency: '. En una emergencia, llame al 911.',
    reconnecting: 'Se perdió la conexión. Reconectando…',
    connecting: 'Conectando…',
    cleared: 'Esta conversación se borró después de 30 minutos sin actividad.',
    switchTo: 'en',
    switchText: 'English',
    switchLabel: 'English: switch the chat to English',
    hello: 'Hola, en español por favor'
  }
};

// "es" for a Spanish setting ("es", "es-MX", ...), else "en".
export function languageOf(setting) {
  return /^es\b/i.test(String(setting || '')) ? 'es' : 'en';
}
