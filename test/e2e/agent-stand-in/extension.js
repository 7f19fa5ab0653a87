// A stand-in for a coding agent (test/e2e/run.mjs step 12). No real language model can run here,
// so instead of a model choosing the tool, this chat participant calls Elevate's
// elevate_requestAccess itself with the chat request's invocation token: the chat then shows the
// tool's confirmation (prepareInvocation's confirmationMessages) exactly as it does for an agent's
// tool call, and runs the tool only once the person confirms.
// Prompt: "@agent-stand-in <resource> <role> <duration> <justification…>".
// The chat refuses to send any request while no model is available, so a model is registered too;
// the participant never asks it anything.
const vscode = require('vscode');

exports.activate = (context) => {
  context.subscriptions.push(
    vscode.lm.registerLanguageModelChatProvider('elevate-test', {
      provideLanguageModelChatInformation: () => [
        {
          id: 'stand-in',
          name: 'Stand-in model',
          family: 'stand-in',
          version: '1',
          maxInputTokens: 8000,
          maxOutputTokens: 1000,
          capabilities: { toolCalling: true },
          isUserSelectable: true,
        },
      ],
      provideLanguageModelChatResponse: async (_model, _messages, _options, progress) => {
        progress.report(new vscode.LanguageModelTextPart('(a stand-in model: it answers nothing)'));
      },
      provideTokenCount: async (_model, text) => Math.ceil((typeof text === 'string' ? text : JSON.stringify(text)).length / 4),
    }),
  );

  context.subscriptions.push(
    vscode.chat.createChatParticipant('elevate-test.agent', async (request, _context, stream, token) => {
      const [resource, role, duration, ...why] = request.prompt.trim().split(/\s+/);
      try {
        const result = await vscode.lm.invokeTool(
          'elevate_requestAccess',
          {
            input: { resource, role, duration, justification: why.join(' ') },
            toolInvocationToken: request.toolInvocationToken,
          },
          token,
        );
        stream.markdown(`Elevate answered: ${result.content.map((part) => part.value ?? '').join('')}`);
      } catch (err) {
        stream.markdown(`The tool did not run: ${err.message}`);
      }
    }),
  );
};
