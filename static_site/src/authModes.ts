// One entry per auth mode (config.ts AUTH_METHODS): its sign-in screen (form, fields, words), what the form's values
// sign in with, which failure marks the password field, and how its credentials travel to the user's other tabs.
// The sign-in flow (signInFlow.ts) and the sign-in views (signInScreens.ts) ask the entry; neither compares a mode.

import {CognitoIdentity} from './cognito';
import type {AuthMethod} from './config';
import {validateDisplayName} from './messages';
import type {SessionCredentials, SessionError} from './session';
import type {SharedCredentials} from './tabs';

export interface FieldSpec {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly autocomplete: string;
  readonly label: string;
  readonly extra: Readonly<Record<string, string | number>>;
}

/** What the sign-in form's values mean: credentials for the TVM, a Cognito sign-in, or what to fix. */
export type SignInRequest =
  | {readonly kind: 'session'; readonly credentials: SessionCredentials}
  | {readonly kind: 'cognito'; readonly username: string; readonly password: string}
  | {readonly kind: 'invalid'; readonly text: string; readonly field: 'first' | 'password'};

export interface AuthMode {
  /** 'host': Session mode's screen (the host app signs people in on its own page); 'login': a form here. */
  readonly form: 'login' | 'host';
  readonly title: string;
  readonly submitText: string;
  readonly fields: readonly FieldSpec[];
  readonly help: string;
  /** The values as typed, in the order of `fields`. */
  request(values: readonly string[]): SignInRequest;
  /** A refused first token: which field gets the focus. */
  errorField(error: SessionError): 'first' | 'password';
}

const NAME_FIELD: FieldSpec = {id: 'login-name', name: 'name', type: 'text', autocomplete: 'nickname', label: 'Display name', extra: {maxlength: 32}};
const PASSWORD_FIELDS: readonly FieldSpec[] = [
  {id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', label: 'Username', extra: {autocapitalize: 'none', spellcheck: 'false'}},
  {id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', label: 'Password', extra: {}},
];

/** Username and password, both required (the username trimmed). */
function passwordRequest(values: readonly string[], signIn: (username: string, password: string) => SignInRequest): SignInRequest {
  const username = (values[0] ?? '').trim();
  const password = values[1] ?? '';
  if (username === '') {
    return {kind: 'invalid', text: 'Enter your username.', field: 'first'};
  }
  if (password === '') {
    return {kind: 'invalid', text: 'Enter your password.', field: 'password'};
  }
  return signIn(username, password);
}

const passwordErrorField = (error: SessionError): 'first' | 'password' =>
  error.kind === 'bad_credentials' || error.kind === 'unauthenticated' ? 'password' : 'first';

const TAB_PASSWORD_HELP =
  'Your password stays in memory only (this tab and your other tabs in this browser), to renew your access; it is never stored.';

export const AUTH_MODES: Readonly<Record<AuthMethod, AuthMode>> = {
  Open: {
    form: 'login',
    title: 'Join as a guest',
    submitText: 'Join the chat',
    fields: [NAME_FIELD],
    help: 'Anyone can pick any display name here, so your messages are marked as from a guest.',
    request: values => {
      const name = validateDisplayName(values[0] ?? '');
      return name.ok ? {kind: 'session', credentials: {kind: 'open', name: name.name}} : {kind: 'invalid', text: name.reason, field: 'first'};
    },
    errorField: passwordErrorField,
  },
  LambdaAuthorizer: {
    form: 'login',
    title: 'Sign in',
    submitText: 'Sign in',
    fields: PASSWORD_FIELDS,
    help: TAB_PASSWORD_HELP,
    request: values => passwordRequest(values, (username, password) => ({kind: 'session', credentials: {kind: 'basic', username, password}})),
    errorField: passwordErrorField,
  },
  AmazonCognito: {
    form: 'login',
    title: 'Sign in',
    submitText: 'Sign in',
    fields: PASSWORD_FIELDS,
    help:
      'Your password goes to Amazon Cognito only and is not kept. Your session stays in memory only (this tab and ' +
      'your other tabs in this browser), to renew your access; it is never stored.',
    request: values => passwordRequest(values, (username, password) => ({kind: 'cognito', username, password})),
    errorField: passwordErrorField,
  },
  Session: {
    form: 'host',
    title: 'Sign in to chat',
    submitText: 'Sign in',
    fields: [],
    help:
      'You sign in on this site’s own login page, which brings you back here. Your chat access stays in memory ' +
      'only (this tab and your other tabs in this browser).',
    request: () => ({kind: 'session', credentials: {kind: 'cookie'}}),
    errorField: passwordErrorField,
  },
};

/** What renewal needs, as it travels to the user's other tabs; null when it cannot travel (a bare bearer token). */
export function exportCredentials(credentials: SessionCredentials): SharedCredentials | null {
  switch (credentials.kind) {
    case 'basic':
      return {kind: 'basic', username: credentials.username, password: credentials.password};
    case 'open':
      return {kind: 'open', name: credentials.name};
    case 'cookie':
      return {kind: 'cookie'};
    case 'identity': {
      const source = credentials.source;
      const tokens = source instanceof CognitoIdentity ? source.share() : null;
      return tokens === null ? null : {kind: 'cognito', username: source.username, tokens};
    }
    case 'bearer':
      return null;
  }
}
